"""Deployment export: a policy's acting map with its observation normalisation as one TorchScript file that runs with
plain PyTorch (``torch.jit.load(file)(obs)``), no genrl needed."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from genrl.data.normalization import ObservationNormalizer

NoiseSampler = Callable[[Tensor, Tensor], Tensor]  # (obs (B, S), z (B, A)) -> actions (B, A)


class _NoiseToAction(nn.Module):
    """(raw obs, z) → action: the normalisation, then the acting map (traced: the solver's loop is unrolled)."""

    def __init__(self, policy: nn.Module, sample: NoiseSampler, normalizer: ObservationNormalizer | None) -> None:
        super().__init__()
        self.policy, self.sample = policy, sample
        self.normalize = normalizer is not None
        if normalizer is not None:
            self.register_buffer("mean", normalizer.mean.clone())
            self.register_buffer("std", normalizer.std.clone())

    def forward(self, obs: Tensor, noise: Tensor) -> Tensor:
        if self.normalize:
            obs = (obs - self.mean) / self.std
        return self.sample(obs, noise)


class DeployedPolicy(nn.Module):
    """``forward(obs, noise=None)``: obs (S,) or (B, S) → action (A,) or (B, A); z ~ N(0, I) drawn with torch's
    global generator when ``noise`` is not given (as :meth:`genrl.Agent.act` draws it, so that the same seed gives the
    same actions)."""

    def __init__(self, inner: nn.Module, action_dim: int) -> None:
        super().__init__()
        self.inner = inner
        self.action_dim = action_dim

    def forward(self, obs: Tensor, noise: Optional[Tensor] = None) -> Tensor:  # noqa: UP045 (TorchScript)
        single = obs.dim() == 1
        if single:
            obs = obs.unsqueeze(0)
        if noise is None:
            z = torch.randn(obs.shape[0], self.action_dim, dtype=obs.dtype, device=obs.device)
        else:
            z = noise.unsqueeze(0) if single else noise
        with torch.no_grad():
            action = self.inner(obs, z)
        return action.squeeze(0) if single else action


def export_policy(
    policy: nn.Module,
    sample: NoiseSampler,
    normalizer: ObservationNormalizer | None,
    obs_dim: int,
    action_dim: int,
    path: str | Path,
    device: torch.device | str = "cpu",
) -> Path:
    """Trace ``sample`` (with ``policy``'s weights and the normalisation) and save it, scripted with its noise draw,
    to ``path``; returns the path."""
    device = torch.device(device)
    inner = _NoiseToAction(policy, sample, normalizer).to(device).eval()
    example = (torch.randn(3, obs_dim, device=device), torch.randn(3, action_dim, device=device))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the solver's time grid is a constant, as intended
        traced = torch.jit.trace(inner, example, check_trace=False)
    scripted = torch.jit.script(DeployedPolicy(traced, action_dim))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(path))
    return path
