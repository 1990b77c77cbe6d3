"""Atomic writes (checkpoints, JSON results) and the random-number state a resumed run must restore."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrl.errors import GenrlError

_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    _atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when there is none yet.

    A file that is empty, truncated or not a genrl checkpoint raises :class:`CheckpointError` naming the file and
    the two ways out, instead of an unpickling traceback.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises many types here: EOFError, RuntimeError, UnpicklingError, ...
        first_line = str(err).splitlines()[0] if str(err) else "unreadable"
        raise CheckpointError(path, f"{type(err).__name__}: {first_line}") from None
    if not isinstance(state, dict) or not state.keys() >= CHECKPOINT_KEYS:
        raise CheckpointError(path, "not a genrl checkpoint")
    return state


#: What every genrl checkpoint holds (Trainer._save).
CHECKPOINT_KEYS = frozenset({"format", "metadata", "position", "algorithm"})


class CheckpointError(GenrlError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path}: cannot be read as a checkpoint ({reason}); delete it to start this run over, "
            f"or choose another run folder (hydra.run.dir=...)"
        )


def write_json(data: Any, path: Path) -> None:
    write_text(json.dumps(data, indent=2) + "\n", path)


def write_text(text: str, path: Path) -> None:
    _atomic_write(path, lambda handle: handle.write(text.encode()))


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
