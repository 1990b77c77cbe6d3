"""An energy-guided generative policy (QGPO's): the behaviour model's velocity plus the gradient of an intermediate
energy E_t(s, x_t), converted to a velocity by the path (Gaussian paths x_t = m_t·a + s_t·ε)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from genrl.models.generative import GenerativeModel
from genrl.models.solvers import integrate, time_grid
from genrl.networks import GaussianFourierTimeEncoder
from genrl.ranges import Count, Fraction, NonNegative


class EnergyNet(nn.Module):
    """E_φ(t, x, s): a SiLU MLP on [x, s, φ(t)] (smooth in x: its gradient guides the sampler), shape (B,)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[Count] = (256, 256, 256),
                 t_dim: Count = 32) -> None:  # fmt: skip
        super().__init__()
        self.time = GaussianFourierTimeEncoder(2 * (t_dim // 2 + t_dim % 2), scale=16.0)
        layers: list[nn.Module] = []
        for d_in, d_out in zip([action_dim + obs_dim + self.time.embed_dim, *hidden_sizes], hidden_sizes):
            layers += [nn.Linear(d_in, int(d_out)), nn.SiLU()]
        layers.append(nn.Linear(int(hidden_sizes[-1]), 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        return self.mlp(torch.cat([x, cond, self.time(t)], dim=-1)).squeeze(-1)


class GuidedPolicy(nn.Module):
    """π_t(x | s) ∝ μ_t(x | s)·exp(E_t(s, x)): sampled by the probability-flow ODE of

        v_π(t, x | s) = v_μ(t, x | s) + w·c_t·∇_x E_φ(t̃, x, s),   c_t = 1 / (∂ score / ∂ velocity) of the path,

    with w = ``guidance_scale``. For any path whose kernel x_t | a is N(m_t·a, s_t²·I) independent of the data, the
    noised tilted policy is exactly μ_t·exp(E_t)/Z with E_t(s, x) = log E_{μ(a | x_t = x, s)}[exp(β·Q(s, a))], so
    ∇log π_t = ∇log μ_t + ∇E_t; and the marginal velocity is affine in the score with a coefficient that depends on
    the path only (``velocity_to_score`` is affine in the velocity: c_t is read from it). c_t diverges where m_t = 0
    (t = 0 on GVP and ICFM; VPSDE's m_0 > 0), while c_t·∇E_t stays finite: the guidance is evaluated at
    t̃ = max(t, ``guidance_t_min``). ``behaviour`` is the run's generative model (built by the composition root).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        behaviour: GenerativeModel,
        hidden_sizes: Sequence[Count] = (256, 256, 256),
        t_dim: Count = 32,
        guidance_scale: NonNegative = 1.0,
        guidance_t_min: Fraction = 0.02,
        action_low: Sequence[float] | None = None,
        action_high: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.behaviour, self.energy = behaviour, EnergyNet(obs_dim, action_dim, hidden_sizes, t_dim)
        self.guidance_scale, self.guidance_t_min = guidance_scale, guidance_t_min
        try:
            self.guidance_coefficient(torch.tensor([0.5]), torch.zeros(1, action_dim))
        except ValueError as err:
            raise ValueError(f"path: {err}; QGPO's guidance needs the path's score") from None

    def guidance_coefficient(self, t: Tensor, x: Tensor) -> Tensor:
        """c_t (B, A) with v_π − v_μ = c_t·(∇log π_t − ∇log μ_t): the inverse slope of the path's velocity → score."""
        path, ones, zeros = self.behaviour.path, torch.ones_like(x), torch.zeros_like(x)
        return 1.0 / (path.velocity_to_score(ones, zeros, t) - path.velocity_to_score(zeros, zeros, t))

    def guidance(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        """w·c_t̃·∇_x E_φ(t̃, x, s), t̃ = max(t, guidance_t_min), shape (B, A) (no graph kept)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0]).clamp_min(self.guidance_t_min)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(t, x, cond).sum(), x)
        return self.guidance_scale * self.guidance_coefficient(t, x) * grad

    def velocity(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        velocity = self.behaviour.velocity(t, x, cond)
        return velocity if self.guidance_scale == 0 else velocity + self.guidance(t, x, cond)

    def sampler(self, steps: int = 31, method: str = "euler", noise_scale: float = 1.0) -> Callable[[Tensor], Tensor]:
        """obs (B, S) → actions (B, A): the guided ODE from x_0 ~ N(0, τ²I) to the behaviour's data end."""
        if not noise_scale >= 0:
            raise ValueError(f"sampling.noise_scale must be >= 0, got {noise_scale}")

        def sample(obs: Tensor) -> Tensor:
            x_0 = noise_scale * torch.randn(obs.shape[0], self.action_dim, device=obs.device, dtype=obs.dtype)
            grid = time_grid(steps, 0.0, self.behaviour.t_end, device=obs.device, dtype=obs.dtype)
            return integrate(lambda t, x: self.velocity(t, x, obs), x_0, grid, method)

        return sample
