"""Neural networks: the policy backbone, its time encoder, and the critic MLPs."""

from genrl.networks.mlp import MLP, DoubleQ, ValueNet
from genrl.networks.residual import TemporalSpatialResBlock, TemporalSpatialResidualNet
from genrl.networks.time_encoders import GaussianFourierTimeEncoder

__all__ = [
    "MLP",
    "DoubleQ",
    "GaussianFourierTimeEncoder",
    "TemporalSpatialResBlock",
    "TemporalSpatialResidualNet",
    "ValueNet",
]
