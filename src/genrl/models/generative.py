"""GenerativeModel: a state-conditioned network + a probability path + a parameterisation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genrl.models import likelihood
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
    ) -> Tensor:
        """Draw x_1 by integrating the probability-flow ODE from t = 0 to the data end.

        Returns (B, D), or (B, n, D) when ``n_per_state`` is given. Differentiable when grad mode is on;
        ``recompute=True`` (Euler only) checkpoints every step so backpropagation through many steps fits
        in memory. ``x_0`` fixes the initial noise (shape (B, D) or (B·n, D)).
        """
        n = 1 if n_per_state is None else n_per_state
        cond_rep = cond if n == 1 else cond.repeat_interleave(n, dim=0)
        if x_0 is None:
            x_0 = torch.randn(cond_rep.shape[0], self.action_dim, device=cond.device, dtype=cond.dtype)
        grid = time_grid(steps, 0.0, self.t_end, device=cond.device, dtype=cond.dtype)

        def field(t: Tensor, x: Tensor) -> Tensor:
            return self.velocity(t, x, cond_rep)

        if recompute:
            if method != "euler":
                raise ValueError("recompute=True is implemented for method 'euler' only")
            x_1 = euler(field, x_0, grid, recompute=True)
        else:
            x_1 = integrate(field, x_0, grid, method)
        return x_1 if n_per_state is None else x_1.view(cond.shape[0], n, -1)

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
        steps: int = 31,
        estimator: str = "exact",
        method: str = "euler",
        probe: str = "gaussian",
        stopgrad_state: bool = False,
        recompute: bool = False,
        return_latent: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """log π_θ(x_1 | cond), shape (B,), by the change of variables (see :mod:`genrl.models.likelihood`)."""
        grid = time_grid(steps, self.t_end, 0.0, device=x_1.device, dtype=x_1.dtype)
        return likelihood.log_prob(
            self.velocity, x_1, cond, grid, estimator, method, probe, stopgrad_state, recompute, return_latent
        )

    @property
    def action_dim(self) -> int:
        return int(self.net.x_dim)
