"""A deterministic policy a = π(s) in the action box: one network call per action (SRPO's Dirac policy)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from genrl.networks import MLP


def tanh_box(
    action_dim: int, action_low: Sequence[float] | None, action_high: Sequence[float] | None
) -> tuple[Tensor, Tensor]:
    """(centre, half-width) of the box [low, high] (default [−1, 1]) that ``c + h·tanh(·)`` maps into."""
    low = torch.full((action_dim,), -1.0) if action_low is None else torch.as_tensor(action_low).float()
    high = torch.full((action_dim,), 1.0) if action_high is None else torch.as_tensor(action_high).float()
    if low.shape != (action_dim,) or high.shape != (action_dim,):
        raise ValueError(f"the action box needs {action_dim} bounds, got {tuple(low.shape)}, {tuple(high.shape)}")
    if not (torch.isfinite(low).all() and torch.isfinite(high).all() and (low < high).all()):
        raise ValueError("a policy with a tanh output needs a bounded action box with low < high")
    return (high + low) / 2, (high - low) / 2


class BoxedMLP(nn.Module):
    """``net``, an MLP from ``in_dim`` inputs to the action, for a policy in the action box [c − h, c + h], which
    the subclass keeps as buffers (:meth:`keep_box`: their names are its state-dict keys)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        in_dim: int,
        hidden_sizes: Sequence[int],
        action_low: Sequence[float] | None,
        action_high: Sequence[float] | None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        center, half_width = tanh_box(action_dim, action_low, action_high)
        self.net = MLP(in_dim, hidden_sizes, action_dim)
        self.keep_box(center, half_width)

    def keep_box(self, center: Tensor, half_width: Tensor) -> None:
        raise NotImplementedError


class DeterministicPolicy(BoxedMLP):
    """π(s) = c + h·tanh(MLP(s)) inside the action box [c − h, c + h] (SRPO's ``Dirac_Policy``: MLP 256-256 with a
    tanh output, on D4RL's box [−1, 1]; other boxes are mapped affinely). Acting is one forward call."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[int] = (256, 256),
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
    ) -> None:
        super().__init__(obs_dim, action_dim, obs_dim, hidden_sizes, action_low, action_high)

    def keep_box(self, center: Tensor, half_width: Tensor) -> None:
        self.register_buffer("center", center)
        self.register_buffer("half_width", half_width)

    def forward(self, obs: Tensor) -> Tensor:
        """The action (B, A) of each state (B, S)."""
        return self.center + self.half_width * torch.tanh(self.net(obs))

    def sampler(self) -> Callable[[Tensor], Tensor]:
        """obs (B, S) → actions (B, A) as evaluation and deployment act: the forward call."""
        return self.forward
