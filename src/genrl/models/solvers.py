"""ODE integration of a velocity field on a time grid: torchdiffeq, and genrl's one Euler loop (with hooks)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from torchdiffeq import odeint

Field = Callable[[Tensor, Tensor], Tensor]  # (t, x) -> v
DensityField = Callable[[Tensor, float, Tensor], tuple[Tensor, Tensor]]  # (t_k, h_k, x_k) -> (v_k, δ_k)

FIXED_GRID_METHODS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2")
ADAPTIVE_TOLERANCE = 1e-5


def time_grid(steps: int, start: float = 0.0, end: float = 1.0, device=None, dtype=torch.float32) -> Tensor:
    """``steps + 1`` equally spaced times from ``start`` to ``end`` (either order)."""
    if steps < 1:
        raise ValueError(f"an ODE grid needs at least 1 step, got steps={steps}")
    return torch.linspace(start, end, steps + 1, device=device, dtype=dtype)


def check_method(method: str) -> None:
    if method not in FIXED_GRID_METHODS + ADAPTIVE_METHODS:
        raise ValueError(
            f"unknown ODE method {method!r}; expected one of {FIXED_GRID_METHODS + ADAPTIVE_METHODS}"
        )


def integrate(field, x: Tensor | tuple[Tensor, ...], grid: Tensor, method: str = "euler"):
    """Integrate ``dx/dt = field(t, x)`` over ``grid`` with torchdiffeq and return the final state.

    Fixed-grid methods step exactly on ``grid`` (evaluating only where the method needs to: Euler uses the
    left point of each step). Adaptive methods use only the grid's end points and tolerance 1e-5.
    ``x`` may be a tuple of tensors (augmented states).
    """
    check_method(method)
    if method in ADAPTIVE_METHODS:
        grid = grid[[0, -1]]
        out = odeint(field, x, grid, method=method, rtol=ADAPTIVE_TOLERANCE, atol=ADAPTIVE_TOLERANCE)
    else:
        out = odeint(field, x, grid, method=method)
    if isinstance(out, tuple):
        return tuple(o[-1] for o in out)
    return out[-1]


def euler(
    field: Field | DensityField,
    x: Tensor,
    grid: Tensor,
    recompute: bool = False,
    *,
    stop_gradient: bool = False,
    density: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Explicit Euler on ``grid``: x_{k+1} = x_k + h_k·v_k, v_k = field(t_k, x_k), h_k = t_{k+1} − t_k. Differentiable.

    Every hand-rolled Euler loop of genrl is this one (sampling, the fused evaluation sampler, the Euler
    likelihoods). Its hooks:

    * ``recompute=True``: each step's field evaluation is checkpointed — its activations are dropped after the
      forward pass and recomputed in backward — so memory holds only the K states x_k and backpropagating
      through a 1000-step sampler fits in GPU memory. The gradient is exactly that of the Euler scheme.
    * ``stop_gradient=True``: the field sees stopgrad(x_k) (x_{k+1} = x_k + h·v(t_k, stopgrad(x_k))).
    * ``density=True``: ``field`` is a :data:`DensityField` (t_k, h_k, x_k) → (v_k, δ_k) and the result is
      (x_K, Σ_k δ_k), e.g. a log-density change accumulated along the path.
    """

    def evaluate(t: Tensor, h: float, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return field(t, h, x) if density else (field(t, x), None)

    times = grid.tolist()
    total = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype) if density else None
    for k in range(len(times) - 1):
        h = times[k + 1] - times[k]
        state = x.detach() if stop_gradient else x
        if recompute and torch.is_grad_enabled():
            v, delta = checkpoint(evaluate, grid[k], h, state, use_reentrant=False)
        else:
            v, delta = evaluate(grid[k], h, state)
        x = x + h * v
        if density:
            total = total + delta
    return (x, total) if density else x
