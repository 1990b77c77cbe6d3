"""Independent conditional flow matching (ICFM): a straight line with constant σ-noise around it."""

from __future__ import annotations

import torch
from torch import Tensor

from genrl.paths.base import Marginal, PathSample, ProbabilityPath, expand_time
from genrl.ranges import NonNegative


class ICFMPath(ProbabilityPath):
    """x_t = (1 − t)·x_0 + t·x_1 + σ·ξ with x_0, ξ ~ N(0, I) independent; target dx_t = x_1 − x_0 (spec §1.4).

    σ is constant, also at both ends, as in the reference. Minibatch pairs (x_0, x_1) are independent (no OT
    coupling). Training times t ~ U[0, 1). Only the velocity parameterisation applies.
    """

    t_max = 1.0

    def __init__(self, sigma: NonNegative = 0.1) -> None:
        if sigma < 0:
            raise ValueError(f"ICFMPath needs sigma >= 0, got {sigma}")
        self.sigma = sigma

    def marginal(self, t: Tensor) -> Marginal:
        t = torch.as_tensor(t)
        std = torch.sqrt((1.0 - t) ** 2 + self.sigma**2)
        return Marginal(t, std, torch.ones_like(t), -(1.0 - t) / std)

    def velocity_to_score(self, velocity: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """∇_x log p_t(x_t) from the marginal velocity v = E[x_1 − x_0 | x_t], for 0 < t (and σ > 0 or t < 1).

        Given x_1, the noise n = (1 − t)·x_0 + σξ ~ N(0, s²I), s² = (1 − t)² + σ², so E[x_0 | x_1, x_t] =
        (1 − t)/s²·(x_t − t·x_1) and v = c·E[x_1 | x_t] − (1 − t)/s²·x_t with c = 1 + t(1 − t)/s². Tweedie's
        formula for x_t | x_1 ~ N(t·x_1, s²I) gives E[x_1 | x_t] = (x_t + s²·∇log p_t)/t; solving for the score:
        ∇log p_t = (t·(v + (1 − t)/s²·x_t)/c − x_t)/s².
        """
        tb = expand_time(t, x_t)
        var = (1.0 - tb) ** 2 + self.sigma**2
        c = 1.0 + tb * (1.0 - tb) / var
        return (tb * (velocity + (1.0 - tb) / var * x_t) / c - x_t) / var

    def sample(self, x_0: Tensor, x_1: Tensor, t: Tensor) -> PathSample:
        tb = expand_time(t, x_1)
        x_t = (1.0 - tb) * x_0 + tb * x_1 + self.sigma * torch.randn_like(x_1)
        return PathSample(x_0=x_0, x_1=x_1, t=t, x_t=x_t, dx_t=x_1 - x_0)
