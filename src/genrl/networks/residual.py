"""TemporalSpatialResidualNet: the U-shaped residual MLP of the reference policy (spec §3.1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genrl.networks.time_encoders import GaussianFourierTimeEncoder
from genrl.ranges import Count, Positive


class TemporalSpatialResBlock(nn.Module):
    """h1 = SiLU(W1·x) + W_c·SiLU(c);  h2 = SiLU(W2·h1);  out = h2 + skip(x)."""

    def __init__(self, in_dim: int, out_dim: int, cond_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, out_dim)
        self.cond = nn.Linear(cond_dim, out_dim)
        self.fc2 = nn.Linear(out_dim, out_dim)
        self.skip = nn.Linear(in_dim, out_dim) if in_dim != out_dim else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = self.act(self.fc1(x)) + self.cond(self.act(c))
        return self.act(self.fc2(h)) + self.skip(x)


class TemporalSpatialResidualNet(nn.Module):
    """N_θ(t, x, s): Fourier time features and a state embedding condition a U-shaped stack of res-blocks.

    c = Linear(SiLU(Linear([φ(t), SiLU(Linear(s))]))); down path x → h_0 → … → h_{n−1}; a middle block; an up
    path that concatenates the matching down activation at each level; a linear head on [u, d_0].
    With ``hidden_sizes=(512, 256, 128)``, D = 6 and S = 17 it has 1,633,222 trainable parameters.
    """

    def __init__(
        self,
        x_dim: int,
        cond_dim: int,
        hidden_sizes: Sequence[Count] = (512, 256, 128),
        t_dim: Count = 32,
        t_scale: Positive = 30.0,
        cond_hidden_dim: Count = 32,
        t_cond_hidden_dim: Count = 128,
    ) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden_sizes]
        if not hidden:
            raise ValueError("TemporalSpatialResidualNet needs at least one hidden size")
        self.x_dim, self.cond_dim = x_dim, cond_dim
        self.time_encoder = GaussianFourierTimeEncoder(t_dim, t_scale)
        self.cond_encoder = nn.Sequential(nn.Linear(cond_dim, cond_hidden_dim), nn.SiLU())
        self.joint = nn.Sequential(
            nn.Linear(t_dim + cond_hidden_dim, t_cond_hidden_dim),
            nn.SiLU(),
            nn.Linear(t_cond_hidden_dim, t_cond_hidden_dim),
        )
        c = t_cond_hidden_dim
        self.down = nn.ModuleList(
            TemporalSpatialResBlock(d_in, d_out, c) for d_in, d_out in zip([x_dim, *hidden[:-1]], hidden)
        )
        self.middle = TemporalSpatialResBlock(hidden[-1], hidden[-1], c)
        up_in = [hidden[i] + hidden[i] for i in range(len(hidden) - 1, 0, -1)]
        up_out = [hidden[i - 1] for i in range(len(hidden) - 1, 0, -1)]
        self.up = nn.ModuleList(TemporalSpatialResBlock(d_in, d_out, c) for d_in, d_out in zip(up_in, up_out))
        self.head = nn.Linear(2 * hidden[0], x_dim)

    def forward(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        c = self.joint(torch.cat([self.time_encoder(t), self.cond_encoder(cond)], dim=-1))
        skips = []
        h = x
        for block in self.down:
            h = block(h, c)
            skips.append(h)
        h = self.middle(h, c)
        for block, skip in zip(self.up, reversed(skips[1:])):
            h = block(torch.cat([h, skip], dim=-1), c)
        return self.head(torch.cat([h, skips[0]], dim=-1))
