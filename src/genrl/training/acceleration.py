"""The speed switches of ``cfg.fast``: TF32, bf16 autocast, torch.compile, and a fused evaluation sampler."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

from genrl.models import GenerativeModel, time_grid

AUTOCAST_KINDS = ("none", "bf16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def configure_matmul(tf32: bool) -> None:
    """Allow TF32 tensor-core matmuls and convolutions (Ampere and later); no effect on CPU."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def autocast(kind: str, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A factory of autocast contexts for network forwards (``none``: a no-op)."""
    if kind not in AUTOCAST_KINDS:
        raise ValueError(f"fast.autocast must be one of {AUTOCAST_KINDS}, got {kind!r}")
    if kind == "none":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def compile_modules(modules: Iterable[nn.Module], mode: str) -> None:
    """``torch.compile`` each module in place (its state_dict keys stay the same)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"fast.compile_mode must be one of {COMPILE_MODES}, got {mode!r}")
    for module in modules:
        module.compile(mode=mode, dynamic=True)


def fused_euler_sampler(policy: GenerativeModel, steps: int, noise_scale: float = 1.0) -> Callable[[Tensor], Tensor]:
    """Actions by one unrolled Euler loop: the same arithmetic as torchdiffeq's fixed-grid Euler, no solver
    bookkeeping between steps, so that torch.compile can fuse (and CUDA-graph) the whole 31-step sample."""

    def sample(obs: Tensor) -> Tensor:
        grid = time_grid(steps, 0.0, policy.t_end, device=obs.device, dtype=obs.dtype)
        times = grid.tolist()
        x = noise_scale * torch.randn(obs.shape[0], policy.action_dim, device=obs.device, dtype=obs.dtype)
        for k in range(steps):
            x = x + (times[k + 1] - times[k]) * policy.velocity(grid[k], x, obs)
        return x

    return sample


def make_policy_sampler(
    policy: GenerativeModel,
    steps: int,
    method: str,
    fused: bool = False,
    compile_mode: str | None = None,
    noise_scale: float = 1.0,
) -> Callable[[Tensor], Tensor]:
    """obs (B, S) → actions (B, A), the way evaluation and deployment sample.

    ``noise_scale`` τ draws the ODE's initial point from N(0, τ²I): τ = 1 samples the learned distribution,
    τ < 1 concentrates the actions towards its modes (τ = 0: one deterministic action per state).
    """
    if not noise_scale >= 0:
        raise ValueError(f"sampling.noise_scale must be >= 0, got {noise_scale}")
    if not fused:

        def sample(obs: Tensor) -> Tensor:
            if noise_scale == 1.0:
                return policy.sample(obs, steps=steps, method=method)
            x_0 = noise_scale * torch.randn(obs.shape[0], policy.action_dim, device=obs.device, dtype=obs.dtype)
            return policy.sample(obs, steps=steps, method=method, x_0=x_0)

        return sample
    if method != "euler":
        raise ValueError(f"fast.fused_sampler needs sampling.method=euler, got {method!r}")
    sample = fused_euler_sampler(policy, steps, noise_scale)
    return torch.compile(sample, mode=compile_mode, dynamic=True) if compile_mode else sample
