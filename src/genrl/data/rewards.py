"""Reward transforms of the reference (spec §7) and episode splitting of flat transition arrays."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import torch

from genrl.data.transitions import Transitions
from genrl.errors import DatasetError

#: The reference splits pseudo-episodes every 1000 transitions when computing the return range.
IQL_MAX_EPISODE_STEPS = 1000
LOCOMOTION_RETURN_SCALE = 1000.0
REWARD_TRANSFORMS = ("locomotion", "antmaze", "none")


def iql_return_range(rewards: np.ndarray, dones: np.ndarray, max_episode_steps: int = IQL_MAX_EPISODE_STEPS):
    """(min, max) return over pseudo-episodes, exactly as the reference computes it (spec §7).

    Scan the (already timeout-filtered) arrays, summing rewards; close a pseudo-episode at ``done`` or when
    it reaches ``max_episode_steps`` transitions. A trailing unfinished window is not counted.
    """
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
    dones = np.asarray(dones).reshape(-1) > 0.5
    returns = []
    start = 0
    for end in [*np.flatnonzero(dones).tolist(), len(rewards) - 1]:  # segments delimited by terminals
        closed_by_done = bool(dones[end]) if len(rewards) else False
        length = end - start + 1
        full_windows = length // max_episode_steps
        bounds = [start + k * max_episode_steps for k in range(full_windows + 1)]
        for a, b in pairwise(bounds):
            returns.append(rewards[a:b].sum())
        rest_start = bounds[-1]
        if closed_by_done and rest_start <= end:
            returns.append(rewards[rest_start : end + 1].sum())
        start = end + 1
        if start >= len(rewards):
            break
    if not returns:
        raise ValueError("no complete pseudo-episode in the dataset: cannot compute the reward scale")
    return float(min(returns)), float(max(returns))


def transform_rewards(data: Transitions, kind: str) -> Transitions:
    """Apply a reward transform: ``locomotion`` r·1000/(R_max − R_min), ``antmaze`` r − 1, or ``none``."""
    if kind == "none":
        return data
    if kind == "antmaze":
        return data.with_reward(data.reward - 1.0)
    if kind == "locomotion":
        try:
            low, high = iql_return_range(data.reward.cpu().numpy(), data.done.cpu().numpy())
        except ValueError:
            why = (
                " (without key 'next_observations' no transition is terminal)"
                if data.metadata.get("next_obs_from_next_row") else ""
            )
            raise DatasetError(
                f"{data.source}: no complete pseudo-episode (transitions up to a terminal, or "
                f"{IQL_MAX_EPISODE_STEPS} of them) among its {len(data)} transitions{why}, so the locomotion reward "
                "scale 1000/(R_max − R_min) is undefined; use a larger dataset, or env.reward_transform=none"
            ) from None
        if high <= low:
            raise DatasetError(
                f"{data.source}: every pseudo-episode return is {low:g}, so the locomotion reward scale "
                "1000/(R_max − R_min) is undefined; use env.reward_transform=none"
            )
        return data.with_reward(data.reward * (LOCOMOTION_RETURN_SCALE / (high - low)))
    raise ValueError(f"unknown reward transform {kind!r}; expected one of {REWARD_TRANSFORMS}")


def episode_returns(rewards: np.ndarray, episode_ends: np.ndarray, include_trailing: bool) -> np.ndarray:
    """Sum of rewards per episode; ``episode_ends[i]`` marks the last transition of an episode."""
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
    ends = np.flatnonzero(np.asarray(episode_ends).reshape(-1))
    if include_trailing and (len(ends) == 0 or ends[-1] != len(rewards) - 1) and len(rewards):
        ends = np.append(ends, len(rewards) - 1)
    if len(ends) == 0:
        return np.zeros(0)
    # reduceat's last segment runs to the end of its input: cut the unfinished tail off first
    sums = np.add.reduceat(rewards[: ends[-1] + 1], np.concatenate([[0], ends[:-1] + 1]))
    return sums


def to_tensor(array: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """float32 tensor copy of a numpy array."""
    return torch.as_tensor(np.asarray(array, dtype=np.float32), device=device)
