"""Minari datasets (``minari.load_dataset``) as flat transitions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from genrl.data import validate
from genrl.data.transitions import Transitions
from genrl.errors import DatasetError
from genrl.errors import one_line as _one_line

_COLUMNS = ("obs", "action", "reward", "next_obs", "done")


def load_minari(dataset_id: str, download: bool = False) -> Transitions:
    """Load a Minari dataset as CPU :class:`Transitions`.

    Each episode holds T+1 observations o: obs = o[:-1], next_obs = o[1:], so no next observation crosses
    episodes. ``done`` = ``terminations`` only (truncations never stop bootstrapping). Dict/Tuple observations
    are flattened exactly as ``gymnasium.spaces.flatten`` over the dataset's observation space would flatten
    each row (Dict keys in the space's order). Actions must be a Box. ``episode_returns`` are per-episode
    reward sums. ``metadata`` has ``eval_env_id`` (the dataset's eval env, else its collection env, else None)
    and ``ref_min_score``/``ref_max_score`` when the dataset defines them.
    """
    source = f"minari:{dataset_id}"
    dataset = _open(dataset_id, download)
    if not isinstance(dataset.action_space, spaces.Box):
        raise DatasetError(
            f"{source}: key 'actions' uses a {type(dataset.action_space).__name__} space; "
            "expected a Box space"
        )
    columns: dict[str, list[np.ndarray]] = {name: [] for name in _COLUMNS}
    returns = []
    for episode in dataset.iterate_episodes():
        _append_episode(columns, episode, dataset.observation_space, source)
        returns.append(float(np.sum(episode.rewards, dtype=np.float64)))
    if not returns or not columns["obs"]:
        raise DatasetError(f"{source}: dataset has no steps; expected at least one transition")
    arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
    for name, array in arrays.items():
        validate.check_finite(source, name, array)
    return Transitions(
        **{name: torch.from_numpy(array) for name, array in arrays.items()},
        episode_returns=np.asarray(returns),
        source=source,
        metadata=_metadata(dataset, dataset_id),
    )


def minari_root() -> Path:
    """Local Minari root: ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``."""
    return Path(os.environ.get("MINARI_DATASETS_PATH") or "~/.minari/datasets").expanduser()


def flatten_rows(space: spaces.Space, value: Any) -> np.ndarray:
    """(n, flatdim) float32 whose row i equals ``gymnasium.spaces.flatten(space, value[i])``."""
    if isinstance(space, spaces.Box):
        array = np.asarray(value)
        return array.reshape(len(array), -1).astype(np.float32, copy=False)
    if isinstance(space, spaces.Dict):
        return np.concatenate([flatten_rows(sub, value[key]) for key, sub in space.spaces.items()], axis=1)
    if isinstance(space, spaces.Tuple):
        return np.concatenate(
            [flatten_rows(sub, part) for sub, part in zip(space.spaces, value, strict=True)], axis=1
        )
    return np.stack([spaces.flatten(space, row) for row in value]).astype(np.float32)


def _open(dataset_id: str, download: bool) -> Any:
    root = minari_root()
    try:
        import minari  # only env=minari needs it: an install without minari (the offline GPU bundle) still trains
    except ImportError as exc:
        raise DatasetError(
            f"Minari dataset '{dataset_id}': the minari package is not installed ({_one_line(exc)}); pip install minari"
        ) from exc
    try:
        return minari.load_dataset(dataset_id, download=download)
    except FileNotFoundError as exc:
        if download:
            raise DatasetError(
                f"Minari dataset '{dataset_id}': download into {root} failed ({_one_line(exc)})"
            ) from exc
        raise DatasetError(
            f"Minari dataset '{dataset_id}' is not in the local root {root} and download=False; "
            f"run `minari download {dataset_id}` (or set MINARI_DATASETS_PATH) or pass download=True "
            "(dataset.download=true)"
        ) from exc
    except Exception as exc:
        action = "download into" if download else "load from"
        raise DatasetError(
            f"Minari dataset '{dataset_id}': could not {action} {root} ({_one_line(exc)})"
        ) from exc


def _append_episode(
    columns: dict[str, list[np.ndarray]], episode: Any, obs_space: spaces.Space, source: str
) -> None:
    steps = len(episode.rewards)
    if steps == 0:
        return
    observations = flatten_rows(obs_space, episode.observations)
    if len(observations) != steps + 1:
        raise DatasetError(
            f"{source}: episode {episode.id} key 'observations' has {len(observations)} rows but "
            f"'rewards' has {steps}; expected {steps + 1} (T + 1) observations"
        )
    actions = np.asarray(episode.actions, dtype=np.float32)
    columns["obs"].append(observations[:-1])
    columns["next_obs"].append(observations[1:])
    columns["action"].append(actions.reshape(steps, -1))
    columns["reward"].append(np.asarray(episode.rewards, dtype=np.float32).reshape(-1))
    columns["done"].append(np.asarray(episode.terminations, dtype=np.float32).reshape(-1))


def _metadata(dataset: Any, dataset_id: str) -> dict[str, Any]:
    stored = dataset.storage.metadata
    metadata: dict[str, Any] = {
        "format": "minari",
        "dataset_id": dataset_id,
        "eval_env_id": _eval_env_id(dataset, stored),
        "keys": {"obs": "observations", "action": "actions"},
    }
    for key in ("ref_min_score", "ref_max_score"):
        if stored.get(key) is not None:
            metadata[key] = float(stored[key])
    return metadata


def _eval_env_id(dataset: Any, stored: dict[str, Any]) -> str | None:
    """The id of ``eval_env_spec`` when the dataset stores one, else of the collection env spec."""
    raw = stored.get("eval_env_spec")
    if isinstance(raw, str):
        return json.loads(raw).get("id")
    env_spec = dataset.env_spec
    return env_spec.id if env_spec is not None else None
