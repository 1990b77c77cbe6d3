"""A state-conditioned Gaussian policy: IQL's actor (Kostrikov et al., 2022), the ``algorithm=iql`` baseline."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from genrl.models.deterministic import tanh_box
from genrl.networks import MLP
from genrl.ranges import Count

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianPolicy(nn.Module):
    """π(a | s) = N(μ(s), diag σ²) with μ(s) = c + h·tanh(MLP(s)) inside the action box [c − h, c + h].

    As IQL's official actor (``NormalTanhPolicy`` with ``tanh_squash_distribution=False``,
    ``state_dependent_std=False``): the mean is squashed by tanh, the distribution is not, so dataset actions on
    the box's edge keep a finite likelihood; log σ is one state-independent parameter per action dimension,
    clipped to ``[log_std_min, log_std_max]``. With the box [−1, 1] (every D4RL locomotion task) μ = tanh(MLP(s))
    exactly as in IQL; other boxes (Pendulum's [−2, 2]) are mapped affinely.

    ``deterministic`` (IQL's evaluation protocol) makes :meth:`sampler` act with μ(s); otherwise it draws
    μ + τ·σ·ε (τ = ``sampling.noise_scale``) clipped to the box, which is what candidate selection needs.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[Count] = (256, 256),
        log_std_min: float = -5.0,
        log_std_max: float = 2.0,
        deterministic: bool = True,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if not log_std_min < log_std_max:
            raise ValueError(f"algorithm.policy: log_std_min ({log_std_min}) must be < log_std_max ({log_std_max})")
        center, half_width = tanh_box(action_dim, action_low, action_high)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.log_std_min, self.log_std_max, self.deterministic = log_std_min, log_std_max, deterministic
        self.mean_net = MLP(obs_dim, hidden_sizes, action_dim)
        self.log_std = nn.Parameter(torch.zeros(action_dim))
        self.register_buffer("center", center)
        self.register_buffer("half_width", half_width)

    @property
    def std(self) -> Tensor:
        """σ (A,): the same for every state."""
        return self.log_std.clamp(self.log_std_min, self.log_std_max).exp()

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """(mean (B, A), std (A,)) of π(· | s)."""
        return self.center + self.half_width * torch.tanh(self.mean_net(obs)), self.std

    def log_prob(self, action: Tensor, obs: Tensor) -> Tensor:
        """log π(a | s), shape (B,)."""
        mean, std = self(obs)
        z = (action - mean) / std
        return (-0.5 * z.pow(2) - std.log() - LOG_SQRT_2PI).sum(-1)

    def sample(self, obs: Tensor, noise_scale: float = 1.0, noise: Tensor | None = None) -> Tensor:
        """μ(s) + τ·σ·ε clipped to the action box (τ = 0: the mean action); ε ~ N(0, I) unless ``noise`` gives it."""
        mean, std = self(obs)
        if noise_scale == 0.0:
            return mean
        action = mean + noise_scale * std * (torch.randn_like(mean) if noise is None else noise)
        return torch.maximum(torch.minimum(action, self.center + self.half_width), self.center - self.half_width)

    def sampler(self, noise_scale: float = 1.0) -> Callable[[Tensor], Tensor]:
        """obs (B, S) → actions (B, A) as evaluation and deployment act: the mean when ``deterministic``."""
        if not noise_scale >= 0:
            raise ValueError(f"sampling.noise_scale must be >= 0, got {noise_scale}")
        scale = 0.0 if self.deterministic else noise_scale
        return lambda obs: self.sample(obs, scale)
