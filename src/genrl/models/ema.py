"""Exponential moving average of a policy's weights (PyTorch's ``AveragedModel``), the copy that acts."""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def ema_of(model: nn.Module, decay: float) -> AveragedModel:
    """θ̄ ← decay·θ̄ + (1 − decay)·θ after each ``update_parameters(model)``; the first update copies θ."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"algorithm.ema_decay must be in [0, 1), got {decay}")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
