"""The in-memory transition set every algorithm trains on, and epoch-wise minibatch index sampling."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Batch:
    """A minibatch: obs (B, S), action (B, A), reward (B,), next_obs (B, S), done (B,) (1.0 = terminal)."""

    obs: Tensor
    action: Tensor
    reward: Tensor
    next_obs: Tensor
    done: Tensor


@dataclass(frozen=True)
class Transitions:
    """All transitions of an offline dataset as float32 tensors on one device.

    ``done`` is 1.0 only for true terminations (bootstrap masks never use time-limit truncations).
    ``episode_returns`` are the raw (untransformed) returns of the behaviour episodes in the file, used for
    the dataset's own score. ``metadata`` carries loader facts such as Minari reference scores.
    """

    obs: Tensor
    action: Tensor
    reward: Tensor
    next_obs: Tensor
    done: Tensor
    episode_returns: np.ndarray
    source: str = "<memory>"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.obs.shape[0]

    @property
    def obs_dim(self) -> int:
        return self.obs.shape[1]

    @property
    def action_dim(self) -> int:
        return self.action.shape[1]

    @property
    def device(self) -> torch.device:
        return self.obs.device

    def to(self, device: torch.device | str) -> Transitions:
        return replace(self, **{name: getattr(self, name).to(device) for name in _TENSOR_FIELDS})

    def with_reward(self, reward: Tensor) -> Transitions:
        return replace(self, reward=reward)

    def batch(self, index: Tensor) -> Batch:
        return Batch(*(getattr(self, name)[index] for name in _TENSOR_FIELDS))

    def stats(self) -> dict[str, float | int]:
        """Size, dims and the behaviour episodes' raw return statistics."""
        returns = self.episode_returns
        return {
            "transitions": len(self),
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "episodes": len(returns),
            "return_mean": float(np.mean(returns)) if len(returns) else math.nan,
            "return_std": float(np.std(returns)) if len(returns) else math.nan,
            "return_min": float(np.min(returns)) if len(returns) else math.nan,
            "return_max": float(np.max(returns)) if len(returns) else math.nan,
        }


_TENSOR_FIELDS = tuple(f.name for f in fields(Batch))


class IndexSampler:
    """Minibatch indices drawn without replacement, one random permutation per pass over the data.

    Batches are consecutive slices of a stream of permutations, so every batch has exactly ``batch_size``
    indices (a batch may straddle two passes, like torchrl's prefetching sampler). Indices live on the data's
    device and come from a dedicated generator whose state is checkpointed.
    """

    def __init__(self, size: int, batch_size: int, seed: int, device: torch.device | str = "cpu") -> None:
        if size < 1:
            raise ValueError("cannot sample minibatches from an empty dataset")
        self.size, self.batch_size, self.device = size, batch_size, torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._perm = torch.empty(0, dtype=torch.long, device=self.device)
        self._pos = 0

    def steps_per_epoch(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def next(self) -> Tensor:
        parts, need = [], self.batch_size
        while need > 0:
            if self._pos >= self._perm.numel():
                self._perm = torch.randperm(self.size, generator=self.generator, device=self.device)
                self._pos = 0
            take = self._perm[self._pos : self._pos + need]
            self._pos += take.numel()
            need -= take.numel()
            parts.append(take)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self._perm.cpu(), "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._perm = state["perm"].to(self.device)
        self._pos = int(state["pos"])
