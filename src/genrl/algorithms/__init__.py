"""Offline RL algorithms with generative policies: GMPO and GMPG."""

from genrl.algorithms.gmpg import GMPG
from genrl.algorithms.gmpo import GMPO

ALGORITHMS = {"gmpo": GMPO, "gmpg": GMPG}

__all__ = ["ALGORITHMS", "GMPG", "GMPO"]
