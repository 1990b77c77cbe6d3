"""Noise schedules: closed forms for α(t), σ(t) and their analytic time derivatives.

``x_t = α(t)·x_1 + σ(t)·x_0`` with the time convention of :mod:`genrl.paths` (t = 0 noise, t = 1 data).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from genrl.ranges import Positive


@dataclass(frozen=True)
class ScheduleOutput:
    """α(t), σ(t) and their derivatives dα/dt, dσ/dt, each shaped like ``t``."""

    alpha: Tensor
    sigma: Tensor
    d_alpha: Tensor
    d_sigma: Tensor


class Schedule(ABC):
    """A stateless closed-form schedule."""

    @abstractmethod
    def __call__(self, t: Tensor) -> ScheduleOutput: ...


class VPSchedule(Schedule):
    """Variance-preserving SDE with a linear β in diffusion time τ = 1 − t (GRL ``linear_vp_sde``).

    β(τ) = β0 + (β1 − β0)·τ,   α = exp(−¼(β1 − β0)τ² − ½β0·τ),   σ = √(1 − α²).
    dα/dt = −dα/dτ = ½β(τ)·α  (GRL's ``d_scale_dt`` drops the ½β0 term: spec §1.2 [BUG], fixed here),
    dσ/dt = −α·(dα/dt)/σ, which diverges at t = 1 where σ = 0.
    """

    def __init__(self, beta_0: Positive = 0.1, beta_1: Positive = 20.0) -> None:
        if not 0 < beta_0 < beta_1:
            raise ValueError(f"VPSchedule needs 0 < beta_0 < beta_1, got beta_0={beta_0}, beta_1={beta_1}")
        self.beta_0 = beta_0
        self.beta_1 = beta_1

    def beta(self, tau: Tensor) -> Tensor:
        """β(τ) in diffusion time."""
        return self.beta_0 + (self.beta_1 - self.beta_0) * tau

    def __call__(self, t: Tensor) -> ScheduleOutput:
        tau = 1.0 - t
        log_alpha = -0.25 * (self.beta_1 - self.beta_0) * tau**2 - 0.5 * self.beta_0 * tau
        alpha = torch.exp(log_alpha)
        sigma = torch.sqrt(-torch.expm1(2.0 * log_alpha))  # √(1 − α²) without cancellation near t = 1
        d_alpha = 0.5 * self.beta(tau) * alpha
        d_sigma = -alpha * d_alpha / sigma
        return ScheduleOutput(alpha, sigma, d_alpha, d_sigma)


class GVPSchedule(Schedule):
    """Generalised variance-preserving (trigonometric) interpolant: α = sin(πt/2), σ = cos(πt/2)."""

    def __call__(self, t: Tensor) -> ScheduleOutput:
        angle = 0.5 * math.pi * t
        alpha, sigma = torch.sin(angle), torch.cos(angle)
        return ScheduleOutput(alpha, sigma, 0.5 * math.pi * sigma, -0.5 * math.pi * alpha)


class LinearSchedule(Schedule):
    """Straight-line interpolation α = t, σ = 1 − t (rectified flow / ICFM mean path)."""

    def __call__(self, t: Tensor) -> ScheduleOutput:
        ones = torch.ones_like(t)
        return ScheduleOutput(t, 1.0 - t, ones, -ones)
