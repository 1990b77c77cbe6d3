"""Scores of capped evaluation episodes (budget=smoke) say so in results.json, and genrl-report keeps them apart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import SUBPROCESS_ENV, run_train
from genrl.cli.report import main as report
from genrl.evaluation import Task, comparability


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("comparable")
    run_train(["budget=smoke", "logger=none", f"hydra.run.dir={root / 'sweep' / 'smoke' / 'seed0'}"], root)
    return root / "sweep" / "smoke" / "seed0"


@pytest.mark.slow
def test_a_smoke_run_says_its_score_is_not_comparable(smoke_run):
    results = json.loads((smoke_run / "results.json").read_text())
    assert results["score_comparable"] is False
    assert results["eval_max_episode_steps"] == 20 and results["env_max_episode_steps"] == 200
    assert "capped at 20 steps" in results["score_note"] and "200-step episodes" in results["score_note"]
    proc = subprocess.run(  # genrl-eval's summary says the same about its own episodes
        [sys.executable, "-m", "genrl.cli.eval", str(smoke_run), "--episodes", "1"],
        env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["score_comparable"] is False


def test_full_length_evaluations_are_comparable():
    assert comparability(Task("demo", "Pendulum-v1", -1.0, 1.0))["score_comparable"] is True
    assert comparability(Task("demo", "Pendulum-v1", -1.0, 1.0, max_episode_steps=200))["score_comparable"] is True
    capped = comparability(Task("demo", "Pendulum-v1", -1.0, 1.0, max_episode_steps=199))
    assert capped["score_comparable"] is False and capped["score_note"].startswith("not comparable")


@pytest.mark.slow
def test_report_never_puts_a_capped_run_in_a_full_runs_cell(smoke_run, capsys):
    """The same configuration, one results.json flagged not comparable: two columns, never one cell."""
    full = smoke_run.parent.parent / "full" / "seed0"
    shutil.copytree(smoke_run, full)
    results = json.loads((full / "results.json").read_text())
    results.update(score_comparable=True, score_note=None)
    (full / "results.json").write_text(json.dumps(results))
    assert report([str(smoke_run.parent.parent)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| Task"))
    assert "GMPO-GVP [not comparable]" in header and header.count("GMPO-GVP") == 2
    assert "(n=2)" not in out and "labelled [not comparable]" in out
    assert report([str(smoke_run.parent.parent), "--mixed", "refuse"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not comparable: evaluation episodes capped at 20 steps" in err[0]
