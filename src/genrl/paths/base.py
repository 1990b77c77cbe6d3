"""What every probability path offers: a conditional marginal, training times and path samples."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Marginal:
    """p_t(x | x_1) = N(mean_scale·x_1, std²·I), with d(mean_scale)/dt and d(std)/dt."""

    mean_scale: Tensor
    std: Tensor
    d_mean_scale: Tensor
    d_std: Tensor


@dataclass(frozen=True)
class PathSample:
    """One draw from a path: noise x_0, data x_1, times t (B,), the point x_t and its velocity target dx_t."""

    x_0: Tensor
    x_1: Tensor
    t: Tensor
    x_t: Tensor
    dx_t: Tensor


def expand_time(t: Tensor, like: Tensor) -> Tensor:
    """Reshape a (B,) or scalar time so it broadcasts against ``like`` (B, ...)."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        return t
    return t.reshape(t.shape + (1,) * (like.dim() - t.dim()))


class ProbabilityPath(ABC):
    """A path from N(0, I) at t = 0 to the data at t = 1 (convention in :mod:`genrl.paths`)."""

    #: Training times are drawn from U(t_min, t_max).
    t_min: float = 0.0
    t_max: float = 1.0

    @abstractmethod
    def marginal(self, t: Tensor) -> Marginal: ...

    @abstractmethod
    def sample(self, x_0: Tensor, x_1: Tensor, t: Tensor) -> PathSample: ...

    def velocity_to_score(self, velocity: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """∇_x log p_t(x_t) from the marginal velocity at (t, x_t), where the path's math gives it; else one line."""
        raise ValueError(f"{type(self).__name__} has no conversion from a velocity to a score")

    def sample_time(self, batch: int, device: torch.device | str | None = None) -> Tensor:
        """Training times t ~ U(t_min, t_max), shape (batch,)."""
        return self.t_min + (self.t_max - self.t_min) * torch.rand(batch, device=device)
