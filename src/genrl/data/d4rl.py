"""D4RL v2 HDF5 files read with h5py, with ``d4rl.qlearning_dataset`` semantics (spec §7)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from genrl.data import validate
from genrl.data.download import fetch_verified
from genrl.data.rewards import episode_returns
from genrl.data.transitions import Transitions
from genrl.errors import ChecksumError, DatasetError
from genrl.errors import one_line as _one_line

D4RL_BASE_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2"
#: SHA-256 of the D4RL v2 locomotion files at ``D4RL_BASE_URL``, as published in TensorFlow Datasets' checksum
#: files (``tensorflow_datasets/d4rl/d4rl_mujoco_{hopper,halfcheetah,walker2d}/checksums.tsv``). A file named here
#: is verified against this hash on every load, whichever ``base_url`` served it; any other downloaded file is
#: verified against the hash recorded beside it (``<file>.sha256``) on its first download.
KNOWN_SHA256 = {
    "halfcheetah_expert-v2.hdf5": "d9fe53bb994eb1e20a99b4fa3412cd76a1bb7966a7ff55e0fcbdd6081bd2965f",
    "halfcheetah_full_replay-v2.hdf5": "27fdf7ea86e5a2cbd24d611ae9e703c86ec2e8e52823abc69dd9af6afb3a36c0",
    "halfcheetah_medium-v2.hdf5": "41324e8487a9556d8cfa4538827f8937f4d63dae3030825ebc9f3a726ed08ca0",
    "halfcheetah_medium_expert-v2.hdf5": "015db75dae5bbe8e94029b71fa0bafc2073365df0c94744e71031189f3f79c06",
    "halfcheetah_medium_replay-v2.hdf5": "48d494a4770c11f48260736dec090b78bdca8375647ed4d24bfa5b6610c7f683",
    "halfcheetah_random-v2.hdf5": "25407aef85b5d16c0f36b4149341edb4acc6a9e88c1db529b2de19e7464874ba",
    "hopper_expert-v2.hdf5": "01aa219a5f8eea5e639eccdc636ec2bf40e317159a95cf4bf6e985f16909941b",
    "hopper_full_replay-v2.hdf5": "56baf95963c51c1e964049a974566c50ba80f289390565523e60c0ba83e0982e",
    "hopper_medium-v2.hdf5": "5bdf1bc4a713c82941de44633df669b36c89850b652a25985166796d25cf71a0",
    "hopper_medium_expert-v2.hdf5": "9d51ad87f8c905be3880d84c6140bcdb7fbf39a19e046a237f238ba34fec9e26",
    "hopper_medium_replay-v2.hdf5": "e121c5f7c9857a307baa9edc6a2c3b48e85fedb9ac316ecddd0f48ca7ef4e39b",
    "hopper_random-v2.hdf5": "63103ef7059db4c0819bd054f4e83ff339030b50bcdb46bdbe50385f234b5054",
    "walker2d_expert-v2.hdf5": "2985dc3d436a8baa10e8f43f946fe1d7c6337a4e4fbc65def70618093b18c59a",
    "walker2d_full_replay-v2.hdf5": "f2720f9d27b2acef6ec9a7d9ad3b80b6c2078ad4467cee668a81e3b3c80bcf2a",
    "walker2d_medium-v2.hdf5": "cf00f43add04c17fdfc2958dd581dea0851b2e5bedbe6fda073758a8f841aeda",
    "walker2d_medium_expert-v2.hdf5": "6b8d7f868c45bbaedf460be797fb7271b46dee6ebe45fe7a64319f2005b59a04",
    "walker2d_medium_replay-v2.hdf5": "e75de96a4f77acf7d4e0d6fdf0d7ccb177c26c44bb4388e4fd99f543ccfa18db",
    "walker2d_random-v2.hdf5": "4e863bb6090cf4a461548bd470564b32f1ae5b32ef3085f816b2ede7f092e7fa",
}
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
    and ``download`` is true. A cached or downloaded file is verified by SHA-256 (``KNOWN_SHA256``, else the hash
    recorded beside it on first download) and downloaded again once on a mismatch; a second mismatch is an error.
    A ``path`` is the user's own file and is not verified.

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
    url = f"{base_url.rstrip('/')}/{file_name}"
    try:
        return fetch_verified(url, file, KNOWN_SHA256.get(file_name), download)
    except FileNotFoundError:
        raise DatasetError(
            f"D4RL file '{file_name}' is not in {directory} and download=False; "
            f"download {url} and put it at {file}"
        ) from None
    except ChecksumError:
        raise
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
