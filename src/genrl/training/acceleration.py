"""The speed switches of ``cfg.fast``: precision (TF32, bf16 autocast) and compilation (torch.compile).

The fused evaluation sampler itself is a solver option of the model (``GenerativeModel.sampler(fused=True)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

from genrl.models import GenerativeModel

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


def make_policy_sampler(
    policy: GenerativeModel,
    steps: int,
    method: str,
    fused: bool = False,
    compile_mode: str | None = None,
    noise_scale: float = 1.0,
) -> Callable[[Tensor], Tensor]:
    """obs (B, S) → actions (B, A), the way evaluation and deployment sample: the policy's
    :meth:`~genrl.models.GenerativeModel.sampler`, compiled as a whole when it is ``fused`` and ``compile_mode``
    is set."""
    sample = policy.sampler(steps, method, fused=fused, noise_scale=noise_scale)
    return torch.compile(sample, mode=compile_mode, dynamic=True) if fused and compile_mode else sample
