"""Gaussian affine paths x_t = α(t)·x_1 + σ(t)·x_0 (VPSDE, GVP) and their noise/score/velocity conversions."""

from __future__ import annotations

from torch import Tensor

from genrl.paths.base import Marginal, PathSample, ProbabilityPath, expand_time
from genrl.paths.schedules import Schedule

#: GRL draws diffusion time τ ~ U(1e-5, 1); in genrl time that is t ~ U(0, 1 − 1e-5) (spec §1.7).
DATA_END_MARGIN = 1e-5


class AffinePath(ProbabilityPath):
    """x_t = α x_1 + σ x_0 with x_0 ~ N(0, I); velocity target dx_t = α̇ x_1 + σ̇ x_0.

    In this convention the diffusion "noise" ε *is* x_0. Conversions between the noise prediction ε̂, the score
    ∇log p_t and the velocity use the schedule at t; they divide by α (zero at t = 0 for GVP) or σ (zero at
    t = 1), so they are only evaluated strictly inside (0, 1) — fixed Euler grids evaluate left points only.
    """

    t_max = 1.0 - DATA_END_MARGIN

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def marginal(self, t: Tensor) -> Marginal:
        s = self.schedule(t)
        return Marginal(s.alpha, s.sigma, s.d_alpha, s.d_sigma)

    def sample(self, x_0: Tensor, x_1: Tensor, t: Tensor) -> PathSample:
        s = self.schedule(expand_time(t, x_1))
        x_t = s.alpha * x_1 + s.sigma * x_0
        dx_t = s.d_alpha * x_1 + s.d_sigma * x_0
        return PathSample(x_0=x_0, x_1=x_1, t=t, x_t=x_t, dx_t=dx_t)

    def noise_to_velocity(self, noise: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """v = (α̇/α)·x_t + (σ̇ − α̇σ/α)·ε  (from x_1 = (x_t − σε)/α)."""
        s = self.schedule(expand_time(t, x_t))
        return (s.d_alpha / s.alpha) * x_t + (s.d_sigma - s.d_alpha * s.sigma / s.alpha) * noise

    def velocity_to_noise(self, velocity: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """Inverse of :meth:`noise_to_velocity`."""
        s = self.schedule(expand_time(t, x_t))
        return (velocity - (s.d_alpha / s.alpha) * x_t) / (s.d_sigma - s.d_alpha * s.sigma / s.alpha)

    def velocity_to_score(self, velocity: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """∇_x log p_t = −ε̂/σ with ε̂ from :meth:`velocity_to_noise` (both linear in E[x_1 | x_t]); 0 < t < 1."""
        return self.noise_to_score(self.velocity_to_noise(velocity, x_t, t), t)

    def noise_to_score(self, noise: Tensor, t: Tensor) -> Tensor:
        """∇_x log p_t(x) = −ε/σ."""
        return -noise / self.schedule(expand_time(t, noise)).sigma

    def score_to_noise(self, score: Tensor, t: Tensor) -> Tensor:
        """ε = −σ·∇_x log p_t(x)."""
        return -self.schedule(expand_time(t, score)).sigma * score
