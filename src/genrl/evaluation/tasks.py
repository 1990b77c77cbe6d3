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
#: The scale of a task without reference returns: its scores are its episode returns, unnormalised.
RAW_SCALE = "raw return (unnormalised: no reference returns R_min, R_max were given)"


@dataclass(frozen=True)
class Task:
    """``name`` labels the task; ``eval_env_id`` is the Gymnasium id evaluated on, made with ``kwargs``
    (``gym.make(eval_env_id, **kwargs)``); R_min/R_max normalise. Without them (both None: a custom dataset whose
    reference returns nobody gave) its scores are the raw returns, and say so (:func:`comparability`)."""

    name: str
    eval_env_id: str
    ref_min_score: float | None
    ref_max_score: float | None
    max_episode_steps: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def normalized(self) -> bool:
        return self.ref_min_score is not None and self.ref_max_score is not None

    def __post_init__(self) -> None:
        if (self.ref_min_score is None) != (self.ref_max_score is None):
            raise ValueError(f"task {self.name}: ref_min_score and ref_max_score are given together or not at all")
        if not self.normalized:
            return
        if not math.isfinite(self.ref_max_score - self.ref_min_score) or self.ref_max_score <= self.ref_min_score:
            raise ValueError(
                f"task {self.name}: ref_max_score ({self.ref_max_score}) must exceed ref_min_score "
                f"({self.ref_min_score})"
            )

    def normalized_score(self, returns: float | np.ndarray) -> float | np.ndarray:
        """100·(R − R_min)/(R_max − R_min), D4RL's normalisation on a 0–100 scale; the returns themselves for a
        task without reference returns."""
        if not self.normalized:
            return np.asarray(returns, dtype=float) if np.ndim(returns) else float(returns)
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
    if not task.normalized:
        note = (
            f"not normalised: task {task.name} has no reference returns (env.ref_min_score, env.ref_max_score), so "
            "its scores are raw episode returns; `genrl-reference` measures them"
        )
        if not comparable:
            note += f"; evaluation episodes capped at {cap} steps (env.max_episode_steps)"
    elif not comparable:
        full = f"{limit}-step episodes ({task.eval_env_id}'s time limit)" if limit else "whole episodes"
        note = (
            f"not comparable: evaluation episodes capped at {cap} steps (env.max_episode_steps) while the reference "
            f"returns R_min, R_max are of {full}"
        )
    return {
        "score_comparable": comparable and task.normalized, "score_note": note, "score_normalized": task.normalized,
        "score_scale": SCORE_SCALE if task.normalized else RAW_SCALE, "eval_max_episode_steps": cap,
        "env_max_episode_steps": limit,
    }  # fmt: skip
