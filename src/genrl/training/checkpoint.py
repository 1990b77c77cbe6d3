"""Checkpoint files: written atomically, read back with one clear error when they are not a genrl checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genrl.errors import GenrlError
from genrl.io import atomic_file


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` into ``path`` atomically (a crash mid-save leaves the previous checkpoint intact)."""
    with atomic_file(path) as handle:
        torch.save(state, handle)


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


def training_progress(state: dict[str, Any]) -> dict[str, Any]:
    """Where the checkpoint's training stood: ``{"phase", "step", "steps", "finished"}``; a checkpoint from before
    genrl recorded it counts as finished (``"finished": None``)."""
    return dict(state.get("progress") or {"finished": None})


def unfinished_reason(state: dict[str, Any]) -> str | None:
    """None when the checkpoint's training finished; else where it stopped, as words for an error or warning."""
    progress = training_progress(state)
    if progress["finished"] is not False:
        return None
    return (
        f"training has not finished (it stopped in phase {progress['phase']} at step {progress['step']} of "
        f"{progress['steps']}: its policy is untrained or partly trained)"
    )


#: What every genrl checkpoint holds (Trainer._save).
CHECKPOINT_KEYS = frozenset({"format", "metadata", "position", "algorithm"})


class CheckpointError(GenrlError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path}: cannot be read as a checkpoint ({reason}); delete it to start this run over, "
            f"or choose another run folder (hydra.run.dir=...)"
        )
