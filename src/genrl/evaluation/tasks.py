"""Tasks: the evaluation environment of a dataset and the reference returns that normalise its scores."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium
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


def comparability(task: Task) -> dict[str, Any]:
    """Whether the task's scores can be compared with full-length ones (results.json, genrl-eval's summary).

    Reference returns are of whole episodes (the env's own time limit); an evaluation capped shorter
    (``env.max_episode_steps`` below it, as ``budget=smoke`` does) scores partial episodes against them, so its
    number means nothing beside a full run's or a published one: ``score_comparable`` is false and
    ``score_note`` says why.
    """
    cap = task.max_episode_steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            limit = gymnasium.spec(task.eval_env_id).max_episode_steps
        except gymnasium.error.Error:
            limit = None
    comparable = cap is None or (limit is not None and cap >= limit)
    note = None
    if not comparable:
        full = f"{limit}-step episodes ({task.eval_env_id}'s time limit)" if limit else "whole episodes"
        note = (
            f"not comparable: evaluation episodes capped at {cap} steps (env.max_episode_steps) while the reference "
            f"returns R_min, R_max are of {full}"
        )
    return {"score_comparable": comparable, "score_note": note, "eval_max_episode_steps": cap,
            "env_max_episode_steps": limit}  # fmt: skip
