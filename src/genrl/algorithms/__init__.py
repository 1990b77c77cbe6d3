"""Offline RL algorithms with generative policies: GMPO, GMPG and the generative behaviour-cloning baseline."""

from genrl.algorithms.bc import BehaviourCloning
from genrl.algorithms.gmpg import GMPG
from genrl.algorithms.gmpo import GMPO

ALGORITHMS = {"gmpo": GMPO, "gmpg": GMPG, "bc": BehaviourCloning}

__all__ = ["ALGORITHMS", "GMPG", "GMPO", "BehaviourCloning"]
