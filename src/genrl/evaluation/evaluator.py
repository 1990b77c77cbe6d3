"""Policy evaluation: N seeded episodes side by side in Gymnasium vector envs, actions sampled in one batch."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers import RecordVideo
from torch import Tensor

from genrl.errors import check_choice
from genrl.evaluation.tasks import Task

VECTORIZATION_MODES = ("sync", "async")
Policy = Callable[[Tensor], Tensor]  # obs (B, S) -> actions (B, A)


@dataclass(frozen=True)
class EvalResult:
    """Per-episode returns and lengths, and their normalised scores."""

    returns: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray

    @property
    def score_mean(self) -> float:
        return float(self.scores.mean())

    @property
    def score_std(self) -> float:
        return float(self.scores.std())

    def summary(self) -> dict[str, float]:
        return {
            "score": self.score_mean,
            "score_std": self.score_std,
            "return_mean": float(self.returns.mean()),
            "return_std": float(self.returns.std()),
            "length_mean": float(self.lengths.mean()),
        }


def make_env(env_id: str, max_episode_steps: int | None = None, kwargs: dict[str, Any] | None = None) -> gym.Env:
    """One evaluation env made with ``kwargs`` (Gymnasium's deprecation notice for the D4RL-matching v4 ids is
    silenced)."""
    options = {**(kwargs or {}), **({"max_episode_steps": max_episode_steps} if max_episode_steps else {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make(env_id, **options)


class Evaluator:
    """Runs ``episodes`` episodes of a task, ``num_envs`` at a time; episode i is reset with seed ``seed + i``.

    Every call uses the same seeds (common random numbers across checkpoints). Actions go to the env as
    sampled, unless ``clip_actions`` (the reference does not clip; MuJoCo clamps the control itself).
    ``video_dir``: record every episode there with Gymnasium's ``RecordVideo`` (one env at a time, so video i is
    episode i; needs moviepy, and for MuJoCo on a headless machine ``MUJOCO_GL=egl`` or ``osmesa``).
    """

    def __init__(
        self,
        task: Task,
        episodes: int = 10,
        num_envs: int | None = None,
        seed: int = 0,
        vectorization: str = "sync",
        clip_actions: bool = False,
        video_dir: str | Path | None = None,
    ) -> None:
        check_choice("eval.vectorization", vectorization, VECTORIZATION_MODES)
        self.task, self.episodes, self.seed = task, episodes, seed
        self.video_dir = Path(video_dir) if video_dir is not None else None
        self.num_envs = 1 if self.video_dir is not None else min(num_envs or episodes, episodes)
        self.vectorization, self.clip_actions = vectorization, clip_actions
        self._envs: gym.vector.VectorEnv | None = None

    @property
    def envs(self) -> gym.vector.VectorEnv:
        if self._envs is None:
            kwargs = dict(self.task.kwargs)
            if self.task.max_episode_steps:
                kwargs["max_episode_steps"] = self.task.max_episode_steps
            wrappers = None
            if self.video_dir is not None:
                kwargs["render_mode"] = "rgb_array"
                wrappers = [self._record_video]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._envs = gym.make_vec(
                    self.task.eval_env_id, self.num_envs, vectorization_mode=self.vectorization, wrappers=wrappers,
                    **kwargs,
                )  # fmt: skip
        return self._envs

    def _record_video(self, env: gym.Env) -> gym.Env:
        prefix = self.task.eval_env_id.replace("/", "_").replace(":", "_")
        return RecordVideo(env, str(self.video_dir), episode_trigger=lambda _: True, name_prefix=prefix)

    def evaluate(self, policy: Policy, device: torch.device | str = "cpu", episodes: int | None = None) -> EvalResult:
        """Roll out ``episodes`` (default: the evaluator's) episodes of ``policy`` and return their returns."""
        episodes = episodes or self.episodes
        returns, lengths = [], []
        for first in range(0, episodes, self.num_envs):
            r, n = self._run_round(policy, torch.device(device), first)
            returns.append(r)
            lengths.append(n)
        returns_arr = np.concatenate(returns)[:episodes]
        lengths_arr = np.concatenate(lengths)[:episodes]
        return EvalResult(returns_arr, lengths_arr, np.asarray(self.task.normalized_score(returns_arr)))

    def _run_round(self, policy: Policy, device: torch.device, first: int) -> tuple[np.ndarray, np.ndarray]:
        envs = self.envs
        n = self.num_envs
        obs, _ = envs.reset(seed=[self.seed + first + i for i in range(n)])
        space = envs.single_action_space
        actions = np.zeros((n, *space.shape), dtype=space.dtype)
        returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
        active = np.ones(n, dtype=bool)
        while active.any():
            with torch.no_grad():
                batch = torch.as_tensor(obs[active], dtype=torch.float32, device=device)
                actions[active] = policy(batch).cpu().numpy()
            if self.clip_actions:
                np.clip(actions, space.low, space.high, out=actions)
            obs, reward, terminated, truncated, _ = envs.step(actions)
            returns[active] += reward[active]
            lengths[active] += 1
            active &= ~(terminated | truncated)
        return returns, lengths

    def close(self) -> None:
        if self._envs is not None:
            self._envs.close()
            self._envs = None


