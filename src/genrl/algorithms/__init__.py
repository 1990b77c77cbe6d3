"""Offline RL algorithms: GMPO, GMPG, and the baselines generative behaviour cloning and IQL."""

from genrl.algorithms.bc import BehaviourCloning
from genrl.algorithms.gmpg import GMPG
from genrl.algorithms.gmpo import GMPO
from genrl.algorithms.iql import IQL

ALGORITHMS = {"gmpo": GMPO, "gmpg": GMPG, "bc": BehaviourCloning, "iql": IQL}

__all__ = ["ALGORITHMS", "GMPG", "GMPO", "IQL", "BehaviourCloning"]
