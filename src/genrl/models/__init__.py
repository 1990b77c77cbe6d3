"""Generative policy models: parameterisations, ODE solvers, likelihoods and the model itself."""

from genrl.models.generative import GenerativeModel
from genrl.models.likelihood import (
    LikelihoodSettings,
    euler_sample_log_prob,
    log_prob,
    standard_normal_log_prob,
    velocity_and_divergence,
    velocity_and_jacobian,
)
from genrl.models.parameterizations import (
    PARAMETERIZATIONS,
    NoiseParameterization,
    Parameterization,
    VelocityParameterization,
    get_parameterization,
)
from genrl.models.solvers import euler, integrate, time_grid

__all__ = [
    "PARAMETERIZATIONS",
    "GenerativeModel",
    "LikelihoodSettings",
    "NoiseParameterization",
    "Parameterization",
    "VelocityParameterization",
    "euler",
    "euler_sample_log_prob",
    "get_parameterization",
    "integrate",
    "log_prob",
    "standard_normal_log_prob",
    "time_grid",
    "velocity_and_divergence",
    "velocity_and_jacobian",
]
