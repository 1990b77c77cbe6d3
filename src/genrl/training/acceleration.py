"""The speed switches of ``cfg.fast``: precision (TF32, bf16 autocast) and compilation (torch.compile).

The fused evaluation sampler itself is a solver option of the model (``GenerativeModel.sampler(fused=True)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

from genrl.errors import check_choice
from genrl.models import GenerativeModel

AUTOCAST_KINDS = ("none", "bf16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def configure_matmul(tf32: bool) -> None:
    """Allow TF32 tensor-core matmuls and convolutions (Ampere and later); no effect on CPU."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def autocast(kind: str, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A factory of autocast contexts for network forwards (``none``: a no-op)."""
    check_choice("fast.autocast", kind, AUTOCAST_KINDS)
    if kind == "none":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def compile_modules(modules: Iterable[nn.Module], mode: str) -> None:
    """``torch.compile`` each module in place (its state_dict keys stay the same)."""
    check_choice("fast.compile_mode", mode, COMPILE_MODES)
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
