"""Plain MLPs for the critic: twin Q networks and a state-value network (spec §3.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genrl.ranges import Count


class MLP(nn.Sequential):
    """Linear → ReLU → … → Linear."""

    def __init__(self, in_dim: int, hidden_sizes: Sequence[int], out_dim: int) -> None:
        layers: list[nn.Module] = []
        for d_in, d_out in zip([in_dim, *hidden_sizes], hidden_sizes):
            layers += [nn.Linear(d_in, int(d_out)), nn.ReLU()]
        layers.append(nn.Linear(int(hidden_sizes[-1]) if hidden_sizes else in_dim, out_dim))
        super().__init__(*layers)


class DoubleQ(nn.Module):
    """Two independent Q(s, a) MLPs on [a, s]; ``forward`` returns both, each (B,)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[Count] = (256, 256)) -> None:
        super().__init__()
        self.q1 = MLP(action_dim + obs_dim, hidden_sizes, 1)
        self.q2 = MLP(action_dim + obs_dim, hidden_sizes, 1)

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([action, obs], dim=-1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)

    def min_q(self, obs: Tensor, action: Tensor) -> Tensor:
        """min(Q1, Q2)(s, a), shape (B,)."""
        return torch.minimum(*self(obs, action))


class ValueNet(nn.Module):
    """V(s) MLP; returns (B,)."""

    def __init__(self, obs_dim: int, hidden_sizes: Sequence[Count] = (256, 256)) -> None:
        super().__init__()
        self.v = MLP(obs_dim, hidden_sizes, 1)

    def forward(self, obs: Tensor) -> Tensor:
        return self.v(obs).squeeze(-1)
