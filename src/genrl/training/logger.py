"""Run logging: metrics as JSON lines in the run dir, optional Weights & Biases, a progress bar per phase."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from genrl.errors import check_choice
from genrl.io import write_bytes
from genrl.run_folder import METRICS_FILE

WANDB_MODES = ("online", "offline", "disabled")
log = logging.getLogger(__name__)


class RunLogger:
    """Appends one JSON object per record to ``metrics.jsonl`` and mirrors it to wandb when enabled.

    ``offset()``/``truncate()`` let a resumed run drop records written after its last checkpoint.
    """

    def __init__(self, run_dir: Path, wandb: dict[str, Any] | None = None, progress: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.progress_enabled = progress
        self._wandb_run = _start_wandb(run_dir, wandb) if wandb else None

    def log(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._wandb_run is not None:
            flat = {f"{record['phase']}/{k}": v for k, v in record.items() if isinstance(v, int | float)}
            self._wandb_call(lambda run: run.log(flat, step=record.get("global_step")))

    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def truncate(self, offset: int) -> None:
        """Drop what was written after byte ``offset`` (the last checkpoint) and any line that is not valid JSON.

        A file shorter than ``offset`` keeps its complete records (it is never padded); a damaged line (a crash
        mid-write, an edit) is dropped, so the file stays valid JSON lines through any resume.
        """
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            kept = [line for line in handle.read(offset).split(b"\n") if _is_json(line)]
        text = b"".join(line + b"\n" for line in kept)
        write_bytes(text, self.path)

    def progress(self, phase: str, total: int, initial: int) -> tqdm:
        """A progress bar with rate and ETA; sparse updates when stderr is not a terminal (SLURM logs)."""
        interactive = sys.stderr.isatty()
        return tqdm(
            total=total,
            initial=initial,
            desc=phase,
            unit="step",
            dynamic_ncols=True,
            mininterval=0.5 if interactive else 30.0,
            disable=not self.progress_enabled,
        )

    def summary(self, values: dict[str, Any]) -> None:
        self._wandb_call(lambda run: run.summary.update(values))

    def close(self) -> None:
        self._wandb_call(lambda run: run.finish())
        self._wandb_run = None

    def _wandb_call(self, action) -> None:
        """wandb is a mirror: if it fails (e.g. its service was killed by a SLURM signal), drop it, keep training."""
        if self._wandb_run is None:
            return
        try:
            action(self._wandb_run)
        except Exception as err:  # any wandb failure must not cost the run
            log.warning("wandb failed (%s); continuing without it, metrics stay in %s", err, self.path)
            self._wandb_run = None


def _is_json(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _start_wandb(run_dir: Path, settings: dict[str, Any]):
    """``disabled`` in the config always wins; otherwise $WANDB_MODE (e.g. set on compute nodes) beats the config."""
    configured = settings.get("mode", "offline")
    check_choice("logger.wandb_mode", configured, WANDB_MODES)
    mode = "disabled" if configured == "disabled" else os.environ.get("WANDB_MODE", configured)
    if mode == "disabled":
        return None
    import wandb  # optional: logger=none never imports it, and the offline GPU bundle leaves it out

    return wandb.init(
        project=settings.get("project", "genrl"),
        entity=settings.get("entity"),
        group=settings.get("group"),
        name=settings.get("name"),
        id=settings.get("id"),
        config=settings.get("config"),
        dir=str(run_dir),
        mode=mode,
        resume="allow",
        settings=wandb.Settings(silent=True),
    )
