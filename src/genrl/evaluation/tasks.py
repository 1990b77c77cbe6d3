"""Tasks: the evaluation environment of a dataset and the reference returns that normalise its scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Every score genrl reports is on this scale.
SCORE_SCALE = "normalized score, 0-100: 100·(R − R_min)/(R_max − R_min)"


@dataclass(frozen=True)
class Task:
    """``name`` labels the task; ``eval_env_id`` is the Gymnasium id evaluated on, made with ``kwargs``
    (``gym.make(eval_env_id, **kwargs)``); R_min/R_max normalise."""

    name: str
    eval_env_id: str
    ref_min_score: float
    ref_max_score: float
    max_episode_steps: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.ref_max_score - self.ref_min_score) or self.ref_max_score <= self.ref_min_score:
            raise ValueError(
                f"task {self.name}: ref_max_score ({self.ref_max_score}) must exceed ref_min_score "
                f"({self.ref_min_score})"
            )

    def normalized_score(self, returns: float | np.ndarray) -> float | np.ndarray:
        """100·(R − R_min)/(R_max − R_min), D4RL's normalisation on a 0–100 scale."""
        return 100.0 * (np.asarray(returns) - self.ref_min_score) / (self.ref_max_score - self.ref_min_score)
