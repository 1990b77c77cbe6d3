"""Shared fixtures: composing the real config tree, and running train.py as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import genrl.config  # noqa: F401  (registers schemas and resolvers)

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
#: Small-op CPU work oversubscribes 2 cores badly when several processes use several threads each.
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "0"}


def compose_config(overrides: list[str] | None = None, return_hydra_config: bool = False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides or [], return_hydra_config=return_hydra_config)


def run_train(
    args: list[str], cwd: Path, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` in ``cwd`` as a user runs it: no wandb, one thread per process (+ ``env``)."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd, env={**SUBPROCESS_ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture
def smoke_args(tmp_path: Path) -> list[str]:
    """Overrides for a seconds-long run writing into tmp_path."""
    return ["budget=smoke", "logger=none", f"hydra.run.dir={tmp_path / 'run'}"]


#: results.json fields that differ between two runs of the same training: times, the host, how it was resumed.
VOLATILE = ("wall_time_s", "host", "sessions", "resumed_at", "act_ms_batch1", "actions_per_s_batch1024")
