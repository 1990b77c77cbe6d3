"""D4RL v2 HDF5 files read with h5py, with ``d4rl.qlearning_dataset`` semantics (spec §7)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from genrl.data import validate
from genrl.data.download import download as download_file
from genrl.data.rewards import episode_returns
from genrl.data.transitions import Transitions
from genrl.errors import DatasetError
from genrl.errors import one_line as _one_line

D4RL_BASE_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2"
DEFAULT_CACHE_DIR = "~/.d4rl/datasets"
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")
OPTIONAL_KEYS = ("next_observations", "timeouts")
_MATRICES = ("observations", "next_observations", "actions")
_VECTORS = ("rewards", "terminals", "timeouts")
#: Rows per read of the large keys: the only temporary memory beyond the output arrays.
_BLOCK_ROWS = 1 << 16


def load_d4rl(
    path: str | None = None,
    file_name: str | None = None,
    cache_dir: str | None = None,
    base_url: str = D4RL_BASE_URL,
    download: bool = True,
) -> Transitions:
    """Load a D4RL v2 HDF5 file as CPU :class:`Transitions` with ``qlearning_dataset`` semantics.

    The file is ``path`` if given; else ``cache_dir / file_name`` (``cache_dir`` defaults to
    ``$D4RL_DATASET_DIR``, else ``~/.d4rl/datasets``), downloaded from ``{base_url}/{file_name}`` when absent
    and ``download`` is true.

    * Transitions whose ``timeouts`` flag is set are dropped (also when ``terminals`` is set too), so no
      next observation crosses a time-limit boundary. ``done`` = ``terminals`` (1.0/0.0); timeouts never count
      as terminal. Without a ``timeouts`` key nothing is dropped for time limits.
    * The last row is kept unless it is a timeout. d4rl's ``qlearning_dataset`` loop also skips the final row,
      but v2 files flag it as a timeout, so the counts agree.
    * Without ``next_observations`` the next observation is ``observations[i + 1]``; rows whose successor
      would lie in another episode (``terminals`` or ``timeouts`` set) or past the end are dropped. Terminal
      transitions are then lost, so every ``done`` is 0 in that case.
    * ``episode_returns`` come from the raw rows before any dropping: an episode ends where ``terminals`` or
      ``timeouts`` is set; a trailing segment with neither flag is not an episode.

    Keys are read one at a time; the large ones in blocks of rows, filtered straight into the output arrays,
    so loading peaks only a little above the size of the returned tensors (``scripts/bench_loading.py``).
    """
    file = _locate(path, file_name, cache_dir, base_url, download)
    source = str(file)
    try:
        handle = h5py.File(file, "r")
    except OSError as exc:
        raise DatasetError(
            f"{source}: cannot open as HDF5 ({_one_line(exc)}); expected a D4RL v2 .hdf5 file"
        ) from exc
    with handle:
        arrays = _read_qlearning(handle, source)
        next_from_next_row = "next_observations" not in handle
    return Transitions(
        **{key: torch.from_numpy(value) for key, value in arrays.items() if key != "episode_returns"},
        episode_returns=arrays["episode_returns"],
        source=source,
        metadata={
            "format": "d4rl", "file": source, "keys": {"obs": "observations", "action": "actions"},
            "next_obs_from_next_row": next_from_next_row,  # no next_observations key: no terminal transitions
        },
    )


def d4rl_cache_dir(cache_dir: str | None = None) -> Path:
    """``cache_dir``, else ``$D4RL_DATASET_DIR``, else ``~/.d4rl/datasets``, with ``~`` expanded."""
    chosen = cache_dir or os.environ.get("D4RL_DATASET_DIR") or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


def _locate(
    path: str | None, file_name: str | None, cache_dir: str | None, base_url: str, download: bool
) -> Path:
    """The local file to read, downloading it into the cache when allowed."""
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise DatasetError(f"{file}: file not found; expected a D4RL v2 .hdf5 file at this path")
        return file
    if not file_name:
        raise DatasetError(
            "load_d4rl: no path and no file_name given; expected one, e.g. file_name='hopper_medium-v2.hdf5'"
        )
    directory = d4rl_cache_dir(cache_dir)
    file = directory / file_name
    if file.is_file():
        return file
    url = f"{base_url.rstrip('/')}/{file_name}"
    if not download:
        raise DatasetError(
            f"D4RL file '{file_name}' is not in {directory} and download=False; "
            f"download {url} and put it at {file}"
        )
    try:
        return download_file(url, file)
    except DatasetError as exc:
        cause = _one_line(exc.__cause__ or exc)
        raise DatasetError(
            f"D4RL file '{file_name}' is not in {directory} and downloading {url} failed ({cause}); "
            f"download it yourself and put it at {file}"
        ) from exc


def _read_qlearning(handle: h5py.File, source: str) -> dict[str, Any]:
    """Validate, then read and filter one key at a time; numpy arrays ready for ``torch.from_numpy``."""
    validate.require_keys(source, handle.keys(), REQUIRED_KEYS)
    columns = {
        key: _dataset(handle, key, source) for key in (*REQUIRED_KEYS, *OPTIONAL_KEYS) if key in handle
    }
    rows = validate.check_columns(source, columns, _MATRICES, _VECTORS, ("observations", "next_observations"))
    terminals = _read_flags(handle, "terminals", source)
    timeouts = (
        _read_flags(handle, "timeouts", source) if "timeouts" in columns else np.zeros(rows, dtype=bool)
    )
    rewards = _read(handle, "rewards", source).reshape(-1)
    has_next = "next_observations" in columns
    keep = _keep_mask(terminals, timeouts, has_next)
    if not keep.any():
        if has_next:
            raise DatasetError(
                f"{source}: key 'timeouts' flags every row; expected at least one non-timeout transition"
            )
        raise DatasetError(
            f"{source}: no transition left: without key 'next_observations' a row's next observation is the next "
            f"row, so the last row and rows ending an episode (terminals/timeouts) are dropped, which is all "
            f"{rows} rows here; expected more rows, or a 'next_observations' key"
        )
    out: dict[str, Any] = {
        "episode_returns": episode_returns(rewards, terminals | timeouts, include_trailing=False)
    }
    out["reward"] = rewards[keep]
    out["done"] = terminals[keep].astype(np.float32)
    del rewards, terminals, timeouts
    out["action"] = _read_kept(handle, "actions", keep, source)
    if has_next:
        out["obs"] = _read_kept(handle, "observations", keep, source)
        out["next_obs"] = _read_kept(handle, "next_observations", keep, source)
    else:
        out["obs"], out["next_obs"] = _read_shifted(handle, keep, source)
    return out


def _keep_mask(terminals: np.ndarray, timeouts: np.ndarray, has_next: bool) -> np.ndarray:
    """Rows kept: not a timeout; without next_observations also not an episode end and not the last row."""
    if has_next:
        return ~timeouts
    keep = ~(timeouts | terminals)
    keep[-1] = False
    return keep


def _read_kept(handle: h5py.File, key: str, keep: np.ndarray, source: str) -> np.ndarray:
    """Rows ``keep`` of a 2-D key as float32, read and checked in blocks straight into the output array."""
    dataset = handle[key]
    out = np.empty((int(keep.sum()), dataset.shape[1]), dtype=np.float32)
    filled = 0
    for start, stop in _blocks(len(keep)):
        block = _read_block(dataset, start, stop, source, key)
        kept = block[keep[start:stop]]
        out[filled : filled + len(kept)] = kept
        filled += len(kept)
    return out


def _read_shifted(handle: h5py.File, keep: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(observations[i], observations[i + 1]) for kept rows i (the last row is never kept here)."""
    dataset, rows = handle["observations"], len(keep)
    obs = np.empty((int(keep.sum()), dataset.shape[1]), dtype=np.float32)
    next_obs = np.empty_like(obs)
    filled = 0
    for start, stop in _blocks(rows):
        # one extra row: the successor of the block's last row
        block = _read_block(dataset, start, min(stop + 1, rows), source, "observations")
        mask = keep[start:stop]
        count = int(mask.sum())
        obs[filled : filled + count] = block[: stop - start][mask]
        next_obs[filled : filled + count] = block[1:][mask[: len(block) - 1]]
        filled += count
    return obs, next_obs


def _blocks(rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + _BLOCK_ROWS, rows)) for start in range(0, rows, _BLOCK_ROWS)]


def _read_block(dataset: h5py.Dataset, start: int, stop: int, source: str, key: str) -> np.ndarray:
    block = dataset[start:stop].astype(np.float32, copy=False)
    if not np.isfinite(block).all():
        validate.check_finite(source, key, dataset[()])  # error path: the whole key, for count and first row
    return block


def _read(handle: h5py.File, key: str, source: str) -> np.ndarray:
    """A whole (small) key as a native float32 array, checked finite."""
    array = handle[key][()].astype(np.float32, copy=False)
    validate.check_finite(source, key, array)
    return array


def _read_flags(handle: h5py.File, key: str, source: str) -> np.ndarray:
    array = handle[key][()]
    validate.check_finite(source, key, array)
    return validate.as_flags(array)


def _dataset(handle: h5py.File, key: str, source: str) -> h5py.Dataset:
    node = handle[key]
    if not isinstance(node, h5py.Dataset):
        raise DatasetError(f"{source}: key '{key}' is an HDF5 group; expected an array")
    return node
