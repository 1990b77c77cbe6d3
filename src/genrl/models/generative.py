"""GenerativeModel: a state-conditioned network + a probability path + a parameterisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genrl.models import likelihood
from genrl.models.likelihood import LikelihoodSettings
from genrl.models.parameterizations import get_parameterization
from genrl.models.solvers import euler, integrate, time_grid
from genrl.paths import ProbabilityPath


class GenerativeModel(nn.Module):
    """π_θ(x_1 | cond) defined by the flow ``dx/dt = v_θ(t, x, cond)`` from x_0 ~ N(0, I) (see :mod:`genrl.paths`).

    ``net(t (B,), x (B, D), cond (B, S)) -> (B, D)`` is read through the parameterisation (``velocity`` or
    ``noise``). The model owns no optimiser and no device: it is a plain module.
    """

    def __init__(self, net: nn.Module, path: ProbabilityPath, parameterization: str = "velocity") -> None:
        super().__init__()
        self.net = net
        self.path = path
        self.parameterization = get_parameterization(parameterization)
        self.parameterization.check(path)
        self.t_end = self.parameterization.data_end(path)

    def velocity(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        """v_θ(t, x | cond), shape (B, D); ``t`` is a scalar or (B,)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        return self.parameterization.to_velocity(self.net(t, x, cond), x, t, self.path)

    def score(self, t: Tensor, x: Tensor, cond: Tensor) -> Tensor:
        """∇_x log p_t(x | cond), shape (B, D), converted from the network's output by the path (for 0 < t < 1)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        return self.parameterization.to_score(self.net(t, x, cond), x, t, self.path)

    def loss(self, x_1: Tensor, cond: Tensor) -> Tensor:
        """Per-sample generative loss ℓ = ½·Σ_d (N_θ(t, x_t, s) − target)_d², shape (B,)  (spec §1.7).

        t ~ U(path.t_min, path.t_max), x_0 ~ N(0, I), x_t from the path; the target is dx_t (velocity) or x_0
        (noise). Per-sample so that GMPO can weight it; behaviour cloning takes the mean.
        """
        x_0 = torch.randn_like(x_1)
        t = self.path.sample_time(x_1.shape[0], device=x_1.device).to(x_1.dtype)
        sample = self.path.sample(x_0, x_1, t)
        output = self.net(t, sample.x_t, cond)
        return 0.5 * (output - self.parameterization.target(sample)).pow(2).sum(-1)

    def sample(
        self,
        cond: Tensor,
        steps: int = 31,
        method: str = "euler",
        n_per_state: int | None = None,
        x_0: Tensor | None = None,
        recompute: bool = False,
        fused: bool = False,
    ) -> Tensor:
        """Draw x_1 by integrating the probability-flow ODE from t = 0 to the data end.

        Returns (B, D), or (B, n, D) when ``n_per_state`` is given. Differentiable when grad mode is on;
        ``x_0`` fixes the initial noise (shape (B, D) or (B·n, D)). Two Euler-only options run genrl's own Euler
        loop (:func:`genrl.models.solvers.euler`) instead of torchdiffeq — the same arithmetic:
        ``recompute=True`` checkpoints every step so backpropagation through many steps fits in memory;
        ``fused=True`` leaves no solver bookkeeping between steps, so that torch.compile can fuse (and
        CUDA-graph) the whole sampler.
        """
        n = 1 if n_per_state is None else n_per_state
        cond_rep = cond if n == 1 else cond.repeat_interleave(n, dim=0)
        if x_0 is None:
            x_0 = torch.randn(cond_rep.shape[0], self.action_dim, device=cond.device, dtype=cond.dtype)
        grid = time_grid(steps, 0.0, self.t_end, device=cond.device, dtype=cond.dtype)

        def field(t: Tensor, x: Tensor) -> Tensor:
            return self.velocity(t, x, cond_rep)

        if recompute or fused:
            if method != "euler":
                option = "recompute=True" if recompute else "the fused sampler"
                raise ValueError(f"{option} is implemented for method 'euler' only")
            x_1 = euler(field, x_0, grid, recompute=recompute)
        else:
            x_1 = integrate(field, x_0, grid, method)
        return x_1 if n_per_state is None else x_1.view(cond.shape[0], n, -1)

    def sampler(
        self, steps: int = 31, method: str = "euler", fused: bool = False, noise_scale: float = 1.0
    ) -> Callable[[Tensor], Tensor]:
        """obs (B, S) → actions (B, A), the way evaluation and deployment sample (see :meth:`sample`).

        ``noise_scale`` τ draws the ODE's initial point from N(0, τ²I): τ = 1 samples the learned distribution,
        τ < 1 concentrates the actions towards its modes (τ = 0: one deterministic action per state).
        """
        if not noise_scale >= 0:
            raise ValueError(f"sampling.noise_scale must be >= 0, got {noise_scale}")
        if fused and method != "euler":
            raise ValueError(f"fast.fused_sampler needs sampling.method=euler, got {method!r}")

        def sample(obs: Tensor) -> Tensor:
            x_0 = noise_scale * torch.randn(obs.shape[0], self.action_dim, device=obs.device, dtype=obs.dtype)
            return self.sample(obs, steps=steps, method=method, x_0=x_0, fused=fused)

        return sample

    def sample_with_log_prob(
        self, cond: Tensor, steps: int = 31, x_0: Tensor | None = None, recompute: bool = False
    ) -> tuple[Tensor, Tensor]:
        """(x_1 (B, D), log p(x_1) (B,)): an Euler sample and its exact density under the Euler sampler.

        See :func:`genrl.models.likelihood.euler_sample_log_prob`. Differentiable; one Jacobian per step.
        """
        if x_0 is None:
            x_0 = torch.randn(cond.shape[0], self.action_dim, device=cond.device, dtype=cond.dtype)
        grid = time_grid(steps, 0.0, self.t_end, device=cond.device, dtype=cond.dtype)
        return likelihood.euler_sample_log_prob(self.velocity, x_0, cond, grid, recompute)

    def log_prob(
        self,
        x_1: Tensor,
        cond: Tensor,
        *fields: Any,
        settings: LikelihoodSettings | None = None,
        return_latent: bool = False,
        **named_fields: Any,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """log π_θ(x_1 | cond), shape (B,), by the change of variables (see :mod:`genrl.models.likelihood`).

        ``settings`` says how; its fields may be given instead, as ``log_prob(x, s, 100, "hutchinson")`` or
        ``log_prob(x, s, steps=6, stopgrad_state=True)`` (the order of :class:`LikelihoodSettings`).
        """
        if settings is None:
            settings = LikelihoodSettings(*fields, **named_fields)
        elif fields or named_fields:
            raise TypeError("log_prob takes either settings= or the settings' fields, not both")
        return likelihood.log_prob(self.velocity, x_1, cond, self.t_end, settings=settings, return_latent=return_latent)

    @property
    def action_dim(self) -> int:
        return int(self.net.x_dim)
