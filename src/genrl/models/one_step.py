"""A one-step noise-conditioned policy a = μ(s, z), z ~ N(0, I): one network call per action (FQL's one-step actor)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genrl.models.deterministic import BoxedMLP


class OneStepPolicy(BoxedMLP):
    """μ(s, z) = MLP([s, z]) with z of the action's dimension: it maps the noise that a multi-step generative policy
    starts from to that policy's action in one call (FQL's ``actor_onestep_flow``). The output is unbounded, so it
    can match a teacher exactly; actions are clamped to the action box ``[low, high]`` when acting (:meth:`act`)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[int] = (512, 512, 512, 512),
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
    ) -> None:
        super().__init__(obs_dim, action_dim, obs_dim + action_dim, hidden_sizes, action_low, action_high)

    def keep_box(self, center: Tensor, half_width: Tensor) -> None:
        self.register_buffer("low", center - half_width)
        self.register_buffer("high", center + half_width)

    def forward(self, obs: Tensor, noise: Tensor) -> Tensor:
        """μ(s, z), (B, A), unclamped (what is distilled and differentiated)."""
        return self.net(torch.cat([obs, noise], dim=-1))

    def act(self, obs: Tensor, noise: Tensor) -> Tensor:
        """μ(s, z) clamped to the action box."""
        return torch.maximum(torch.minimum(self.forward(obs, noise), self.high), self.low)

    def sampler(self, noise_scale: float = 1.0) -> Callable[[Tensor], Tensor]:
        """obs (B, S) → actions (B, A) as evaluation and deployment act: z ~ N(0, τ²I), one forward call."""
        if not noise_scale >= 0:
            raise ValueError(f"sampling.noise_scale must be >= 0, got {noise_scale}")

        def sample(obs: Tensor) -> Tensor:
            noise = noise_scale * torch.randn(obs.shape[0], self.action_dim, device=obs.device, dtype=obs.dtype)
            return self.act(obs, noise)

        return sample


def matching_loss(student: OneStepPolicy, obs: Tensor, noise: Tensor, target: Tensor) -> Tensor:
    """mean‖μ(s, z) − target‖² over the batch and the action's dimensions."""
    return (student(obs, noise) - target).pow(2).mean()
