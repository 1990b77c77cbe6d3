"""Gaussian Fourier features of the time t (spec §3.1)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GaussianFourierTimeEncoder(nn.Module):
    """φ(t) = [sin(2π·t·W), cos(2π·t·W)] with W ~ N(0, scale²) drawn once, shape (embed_dim/2,).

    W is a persistent buffer: it is not trained, but it is saved in the state dict and copied with the model.
    """

    def __init__(self, embed_dim: int = 32, scale: float = 30.0) -> None:
        super().__init__()
        if embed_dim % 2:
            raise ValueError(f"GaussianFourierTimeEncoder needs an even embed_dim, got {embed_dim}")
        self.embed_dim = embed_dim
        self.register_buffer("W", torch.randn(embed_dim // 2) * scale)

    def forward(self, t: Tensor) -> Tensor:
        angles = 2 * math.pi * t[..., None] * self.W
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
