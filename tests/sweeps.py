"""Running seed sweeps through train.py and checking genrl-report's table against the runs' results.json."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from conftest import REPO, SUBPROCESS_ENV

SEEDS = (0, 1, 2)
CONFIGS = ("gmpo", "gmpg")
SWEEP_ARGS = ["-m", f"seed={','.join(map(str, SEEDS))}", f"algorithm={','.join(CONFIGS)}", "budget=smoke"]
SWEEP_ARGS += ["logger=none"]


def multirun(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, f"multirun failed:\n{proc.stderr[-3000:]}"
    return proc


def report_csv(*sweep_dirs: Path) -> list[dict[str, str]]:
    """genrl-report as a user runs it (the console script of this environment)."""
    script = Path(sys.executable).with_name("genrl-report")
    proc = subprocess.run([str(script), *map(str, sweep_dirs), "--format", "csv"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return list(csv.DictReader(io.StringIO(proc.stdout)))


def assert_seeds_side_by_side(sweep_dir: Path) -> list[Path]:
    """<sweep>/<overrides without seed>/seed=<n>/results.json for every config × seed."""
    files = sorted(sweep_dir.glob("*/seed=*/results.json"))
    assert len(files) == len(SEEDS) * len(CONFIGS), files
    for algorithm in CONFIGS:
        config_dir = sweep_dir / f"algorithm={algorithm},budget=smoke"  # the overrides, sorted, without the seed
        assert sorted(p.name for p in config_dir.iterdir() if p.is_dir()) == [f"seed={s}" for s in SEEDS]
    return files


def assert_report_equals_aggregates(sweep_dir: Path) -> None:
    files = assert_seeds_side_by_side(sweep_dir)
    runs = [json.loads(f.read_text()) for f in files]
    assert sorted((r["algorithm"], r["seed"]) for r in runs) == sorted((a, s) for a in CONFIGS for s in SEEDS)
    rows = {(r["metric"], r["task"], r["column"]): r for r in report_csv(sweep_dir)}
    for metric in ("score_final", "score_best"):
        scores: dict[str, list[float]] = defaultdict(list)
        for run in runs:  # budget=smoke caps the episodes: every run is labelled so (issue 25), in its own columns
            assert run["score_comparable"] is False
            scores[f"{run['algorithm'].upper()}-{run['path'].upper()} [not comparable]"].append(run[metric])
        for column, values in scores.items():
            row = rows[(metric, "demo", column)]
            assert int(row["n"]) == len(SEEDS)
            assert float(row["mean"]) == np.mean(values)
            assert float(row["std"]) == np.std(values, ddof=1)
            average = rows[(metric, "Average", column)]  # one task: the average is that task's cell
            assert float(average["mean"]) == np.mean(values)
