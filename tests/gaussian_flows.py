"""Closed-form optimal fields for a Gaussian target N(m, diag(c)) and the exact pushforward of N(0, I).

For Gaussian data the marginal velocity of every path in genrl is affine in x, per dimension:
v(t, x) = a(t)·x + b(t). The pushforward of N(0, I) is then N(μ(1), P(1)) with μ' = aμ + b, P' = 2aP,
which :func:`pushforward_moments` integrates independently of genrl's solvers (float64 RK4, fine grid).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genrl.paths import AffinePath, ICFMPath


def field_coefficients(path, t: Tensor, m: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) with v(t, x) = a·x + b for x_1 ~ N(m, diag c), t broadcast against m."""
    t = t[..., None] if t.dim() else t
    if isinstance(path, ICFMPath):
        var = t**2 * c + (1 - t) ** 2 + path.sigma**2
        gain = (t * c - (1 - t)) / var  # Cov(x_1 − x_0, x_t) / Var(x_t)
        return gain, m - gain * t * m
    s = path.schedule(t)
    var = s.alpha**2 * c + s.sigma**2
    # VP and GVP preserve variance (α² + σ² = 1), so σσ̇ = −αα̇: finite at t = 1 where σ̇ alone diverges.
    sigma_d_sigma = -s.alpha * s.d_alpha
    gain = (s.d_alpha * s.alpha * c + sigma_d_sigma) / var
    return gain, s.d_alpha * m - gain * s.alpha * m


def optimal_noise(path: AffinePath, t: Tensor, x: Tensor, m: Tensor, c: Tensor) -> Tensor:
    """E[x_0 | x_t = x] for x_1 ~ N(m, diag c)."""
    s = path.schedule(t[:, None])
    return s.sigma * (x - s.alpha * m) / (s.alpha**2 * c + s.sigma**2)


class OptimalNet(nn.Module):
    """A 'network' that outputs the exact optimal velocity (or noise) for a Gaussian target."""

    def __init__(self, path, m: Tensor, c: Tensor, output: str = "velocity") -> None:
        super().__init__()
        self.path, self.m, self.c, self.output = path, m, c, output
        self.x_dim = m.numel()
        self.dummy = nn.Parameter(torch.zeros(()))  # gives the module a parameter (for .grad checks)

    def forward(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        if self.output == "noise":
            return optimal_noise(self.path, t, x, self.m, self.c) + 0 * self.dummy
        a, b = field_coefficients(self.path, t, self.m, self.c)
        return a * x + b + 0 * self.dummy


def pushforward_moments(path, m: Tensor, c: Tensor, t_end: float = 1.0, steps: int = 4000):
    """Mean and variance of x(t_end) when x(0) ~ N(0, I) follows the optimal field (independent RK4)."""
    mu = torch.zeros_like(m, dtype=torch.float64)
    var = torch.ones_like(m, dtype=torch.float64)
    m, c = m.double(), c.double()
    h = t_end / steps

    def rhs(t: float, mu: Tensor, var: Tensor) -> tuple[Tensor, Tensor]:
        a, b = field_coefficients(path, torch.tensor(t, dtype=torch.float64), m, c)
        return a * mu + b, 2 * a * var

    for k in range(steps):
        t = k * h
        k1 = rhs(t, mu, var)
        k2 = rhs(t + h / 2, mu + h / 2 * k1[0], var + h / 2 * k1[1])
        k3 = rhs(t + h / 2, mu + h / 2 * k2[0], var + h / 2 * k2[1])
        k4 = rhs(t + h, mu + h * k3[0], var + h * k3[1])
        mu = mu + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        var = var + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return mu, var


def gaussian_log_prob(x: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    return -0.5 * ((x - mean) ** 2 / var).sum(-1) - 0.5 * torch.log(2 * math.pi * var).sum()
