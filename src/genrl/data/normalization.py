"""Observation normalisation: per-dimension dataset mean and standard deviation, saved with the policy."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from genrl.data.transitions import Transitions

#: Added to every standard deviation, so constant observation dimensions stay finite.
STD_FLOOR = 1e-3


@dataclass(frozen=True)
class ObservationNormalizer:
    """s ↦ (s − mean) / std, with the statistics of the training data (so critic and policy see one scale)."""

    mean: Tensor
    std: Tensor

    @classmethod
    def from_data(cls, data: Transitions) -> ObservationNormalizer:
        obs = data.obs.double()
        return cls(obs.mean(0).float(), (obs.std(0) + STD_FLOOR).float())

    def __call__(self, obs: Tensor) -> Tensor:
        return (obs - self.mean.to(obs.device)) / self.std.to(obs.device)

    def transitions(self, data: Transitions) -> Transitions:
        """``data`` with ``obs`` and ``next_obs`` normalised (rewards, actions and returns unchanged)."""
        return replace(data, obs=self(data.obs), next_obs=self(data.next_obs))

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.cpu().tolist(), "std": self.std.cpu().tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ObservationNormalizer:
        return cls(torch.tensor(state["mean"], dtype=torch.float32), torch.tensor(state["std"], dtype=torch.float32))
