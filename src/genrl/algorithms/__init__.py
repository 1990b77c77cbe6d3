"""Offline RL algorithms: GMPO, GMPG, and the baselines generative behaviour cloning and IQL."""

from genrl.algorithms.base import Algorithm
from genrl.algorithms.bc import BehaviourCloning
from genrl.algorithms.gmpg import GMPG
from genrl.algorithms.gmpo import GMPO
from genrl.algorithms.iql import IQL

__all__ = ["GMPG", "GMPO", "IQL", "Algorithm", "BehaviourCloning"]
