"""The reference's custom-data format: one ``.npz`` with ``obs, action, next_obs, reward, done``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from genrl.data import validate
from genrl.data.rewards import episode_returns
from genrl.data.transitions import Transitions
from genrl.errors import DatasetError

NPZ_KEYS = ("obs", "action", "next_obs", "reward", "done")


def load_npz(path: str) -> Transitions:
    """Load an ``.npz`` with keys ``obs (N,S), action (N,A), next_obs (N,S), reward (N,), done (N,)``.

    Extra keys are ignored; ``reward``/``done`` may also be (N, 1). Every row is a transition. For
    ``episode_returns`` an episode ends where ``done`` is 1 or where ``next_obs[i] != obs[i + 1]``; the end of
    the arrays closes the last episode.
    """
    file = Path(path).expanduser()
    source = str(file)
    arrays = _read_npz(file, source)
    validate.check_columns(
        source, arrays, ("obs", "next_obs", "action"), ("reward", "done"), ("obs", "next_obs")
    )
    for key, array in arrays.items():
        validate.check_finite(source, key, array)
    obs, next_obs = arrays["obs"], arrays["next_obs"]
    reward = validate.as_vector(arrays["reward"])
    done = validate.as_flags(arrays["done"])
    ends = done.copy()
    ends[:-1] |= np.any(next_obs[:-1] != obs[1:], axis=1)
    return Transitions(
        obs=_tensor(obs),
        action=_tensor(arrays["action"]),
        reward=_tensor(reward),
        next_obs=_tensor(next_obs),
        done=_tensor(done),
        episode_returns=episode_returns(reward, ends, include_trailing=True),
        source=source,
        metadata={"format": "npz", "file": source, "keys": {"obs": "obs", "action": "action"}},
    )


def _read_npz(file: Path, source: str) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise DatasetError(f"{source}: file not found; expected an .npz with keys {', '.join(NPZ_KEYS)}")
    try:
        npz = np.load(file, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        cause = " ".join(str(exc).split())
        raise DatasetError(f"{source}: cannot read as .npz ({cause}); expected a numpy .npz archive") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DatasetError(
            f"{source}: holds a single array; expected an .npz with keys {', '.join(NPZ_KEYS)}"
        )
    with npz:
        validate.require_keys(source, npz.files, NPZ_KEYS)
        return {key: npz[key] for key in NPZ_KEYS}


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
