"""Offline datasets: loaders (D4RL HDF5, Minari, NPZ), validation, reward transforms, minibatches."""

from genrl.data.d4rl import D4RL_BASE_URL, load_d4rl
from genrl.data.minari import load_minari
from genrl.data.npz import load_npz
from genrl.data.rewards import iql_return_range, transform_rewards
from genrl.data.transitions import Batch, IndexSampler, Transitions
from genrl.data.validate import check_against_env

__all__ = [
    "D4RL_BASE_URL",
    "Batch",
    "IndexSampler",
    "Transitions",
    "check_against_env",
    "iql_return_range",
    "load_d4rl",
    "load_minari",
    "load_npz",
    "transform_rewards",
]
