"""No silently wrong number (issue 26): every score says what it measured, or the run refuses with one line.

Each class of the issue, as a user runs it: the one-line message names the cause, and a refused run wrote no
results.json or checkpoint (or left the existing ones byte for byte).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SUBPROCESS_ENV, compose_config, run_train
from genrl import Agent
from genrl.config import MAX_DIRNAME_BYTES, asset_path, config_dirname
from genrl.config_checks import check_config
from genrl.errors import ConfigError, GenrlError

SMOKE = ["budget=smoke", "logger=none"]


def _npz(path: Path, rows: int = 2000, scale: float = 1.0) -> Path:
    """Pendulum transitions from the demo file (``scale`` changes the rewards: other data, same shapes)."""
    demo = np.load(asset_path("demo.npz"))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: demo[k][:rows] * (scale if k == "reward" else 1) for k in demo.files if demo[k].ndim})
    return path


def _train(run: Path, *args: str) -> subprocess.CompletedProcess:
    run.parent.mkdir(parents=True, exist_ok=True)
    return run_train([*SMOKE, f"hydra.run.dir={run}", *args], run.parent, check=False, timeout=200)


def _cli(module: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"genrl.cli.{module}", *args], env=SUBPROCESS_ENV, capture_output=True, text=True,
        timeout=200, **kwargs,
    )  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[-1].startswith("error: ")
    return lines[-1]


def _nothing_written(run: Path) -> None:
    assert not (run / "results.json").exists() and not (run / "checkpoint.pt").exists()


def _digests(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.name in ("results.json", "checkpoint.pt")}


# ---------------------------------------------------------------------------------------------------------
# 1. a custom dataset's task is its own


def test_a_custom_dataset_is_its_own_task_with_raw_returns_and_no_tuning(tmp_path):
    data = _npz(tmp_path / "mine.npz")
    run = tmp_path / "run"
    proc = _train(run, "dataset=npz", f"dataset.path={data}", "env.eval_env_id=Pendulum-v1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((run / "results.json").read_text())
    assert results["env"] == "mine"  # the file's stem, not "demo"
    assert results["score_normalized"] is False and results["score_comparable"] is False
    assert results["score_scale"].startswith("raw return") and "not normalised" in results["score_note"]
    assert results["score_final"] < 0  # Pendulum's raw returns, not a 0-100 score
    config = (run / "config.yaml").read_text()
    assert "beta: 10.0" not in config and "- 256\n    - 128\n    - 64" not in config  # not the demo's tuning
    assert "scores not normalised" in proc.stdout + proc.stderr  # the console's warning


def test_a_custom_dataset_without_an_eval_env_or_with_another_tasks_references_is_refused(tmp_path):
    data = _npz(tmp_path / "mine.npz")
    run = tmp_path / "run"
    line = _one_line(_train(run, "dataset=npz", f"dataset.path={data}"))
    assert "env.eval_env_id" in line and "env=mine" in line
    _nothing_written(run)
    line = _one_line(_train(run, "env=demo", f"dataset.path={data}", "env.eval_env_id=MountainCarContinuous-v0"))
    assert line.startswith("error: env.eval_env_id=MountainCarContinuous-v0: env=demo's reference returns")
    assert "env.ref_min_score" in line
    _nothing_written(run)
    # composed without train.py (the Python API): the demo task never scores another file
    with pytest.raises(ConfigError, match=r"^dataset.path=.*mine.npz: not the demo task's data.*env=custom"):
        check_config(compose_config([f"dataset.path={data}"]))


def test_the_report_keeps_two_datasets_under_one_task_name_apart(tmp_path):
    for folder, scale in (("a", 1.0), ("b", 0.5)):  # two files called mine.npz: one task name, other data
        data = _npz(tmp_path / folder / "mine.npz", scale=scale)
        run = tmp_path / "runs" / folder / "seed0"
        args = [f"dataset.path={data}", "env.eval_env_id=Pendulum-v1", "env.name=mine"]
        assert _train(run, *args).returncode == 0
    proc = _cli("report", str(tmp_path / "runs"), "--format", "csv", "--metric", "score_final")
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r["task"] == "mine"]
    assert not [r for r in rows if r["column"] == "Dataset"]  # two datasets' scores are not one Dataset cell
    assert len(rows) == 2 and all(r["n"] == "1" for r in rows)  # never averaged into one cell
    assert all("raw return" in r["column"] and "dataset" in r["column"] for r in rows), rows


# ---------------------------------------------------------------------------------------------------------
# 2. every key through the schema, + or not


@pytest.mark.parametrize(
    ("override", "expected"),
    [("+eval.episdes=5", "error: eval.episdes: not a config key"), ("+algorithm.betta=3", "algorithm.betta"),
     ("++eval.episdes=5", "eval.episdes"), ("+foo=1", "error: foo: not a config key")],
)  # fmt: skip
def test_a_key_added_with_plus_is_checked_like_any_other(tmp_path, override, expected):
    run = tmp_path / "run"
    line = _one_line(_train(run, override))
    assert expected in line
    _nothing_written(run)


def test_a_plugin_without_a_schema_is_checked_against_its_constructor():
    with pytest.raises(ConfigError, match=r"^algorithm.betta: not a config key"):
        check_config(compose_config(["algorithm=idql", "+algorithm.betta=3"]))


# ---------------------------------------------------------------------------------------------------------
# 3. a run folder is bound to its data


def test_a_changed_dataset_does_not_resume_the_old_run(tmp_path):
    data = _npz(tmp_path / "mine.npz")
    run = tmp_path / "run"
    args = [f"dataset.path={data}", "env.eval_env_id=Pendulum-v1"]
    assert _train(run, *args).returncode == 0
    fingerprint = json.loads((run / "results.json").read_text())["dataset_fingerprint"]
    assert fingerprint["bytes"] == data.stat().st_size and len(fingerprint["sha256"]) == 64
    before = _digests(run)
    _npz(data, scale=2.0)  # the same path, other data
    line = _one_line(_train(run, *args))
    assert "trained on other data" in line and "dataset.path=" in line and "mine.npz" in line
    assert "hydra.run.dir=" in line and "delete" in line
    assert _digests(run) == before  # the old results and checkpoint untouched


# ---------------------------------------------------------------------------------------------------------
# 4. checkpoints know their phase


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("demo") / "run"
    proc = _train(run, "checkpoint.keep_phase_ends=true", "checkpoint.keep_evaluations=true")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run


def test_each_evaluated_policy_is_kept_for_checkpoint_choice(finished_run):
    """``checkpoint.keep_evaluations``: checkpoint.<phase>-<step>.pt is the policy each evaluation scored."""
    results = json.loads((finished_run / "results.json").read_text())
    steps = results["curve"]["step"]
    assert len(steps) == 2  # budget=smoke evaluates twice
    policy_steps = results["phase_steps"]["policy"]
    kept = sorted(finished_run.glob("checkpoint.policy-*.pt"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert [int(p.stem.rsplit("-", 1)[1]) for p in kept] == [round(policy_steps * k / 2) for k in (1, 2)]
    for path, score in zip(kept, results["curve"]["score"], strict=True):
        state = torch.load(path, map_location="cpu", weights_only=False)
        assert state["evaluations"][-1]["score"] == score  # saved right after its evaluation
    last = torch.load(kept[-1], map_location="cpu", weights_only=False)["algorithm"]
    final = torch.load(finished_run / "checkpoint.pt", map_location="cpu", weights_only=False)["algorithm"]
    assert all(torch.equal(a, b) for a, b in zip(_tensors(last), _tensors(final), strict=True))


def _tensors(tree) -> list:
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for key in sorted(tree, key=str) for t in _tensors(tree[key])]
    if isinstance(tree, list | tuple):
        return [t for item in tree for t in _tensors(item)]
    return []


def test_an_unfinished_policy_is_refused_for_evaluation_and_deployment(finished_run, tmp_path):
    unfinished = finished_run / "checkpoint.critic.pt"  # training stopped after the critic phase
    out = tmp_path / "eval.json"
    line = _one_line(_cli("eval", str(unfinished), "--episodes", "1", "--output", str(out)))
    assert "training has not finished" in line and "phase critic" in line and "--allow-unfinished" in line
    assert not out.exists()
    with pytest.raises(GenrlError, match=r"training has not finished.*allow_unfinished=True"):
        Agent.from_checkpoint(unfinished)
    proc = _cli("eval", str(unfinished), "--episodes", "1", "--allow-unfinished")
    assert proc.returncode == 0 and "training has not finished" in proc.stderr  # loudly
    assert json.loads(proc.stdout)["training_finished"] is False
    Agent.from_checkpoint(unfinished, allow_unfinished=True)
    Agent.from_checkpoint(finished_run)  # a finished run loads as before
    assert json.loads(_cli("eval", str(finished_run), "--episodes", "1").stdout)["training_finished"] is True


# ---------------------------------------------------------------------------------------------------------
# 5. checks before compute


def test_a_one_transition_dataset_fails_at_start(tmp_path):
    data = _npz(tmp_path / "one.npz", rows=1)
    run = tmp_path / "run"
    line = _one_line(_train(run, f"dataset.path={data}", "env.eval_env_id=Pendulum-v1"))
    assert "one.npz: 1 transition(s); expected at least 10" in line
    _nothing_written(run)
    assert not (run / "config.yaml").exists()  # refused before the run was accepted


def test_an_overlong_run_folder_name_is_shortened_with_a_hash():
    long = ",".join(f"algorithm.beta{i}=1" for i in range(40))
    name = config_dirname(long)
    assert len(name.encode()) <= MAX_DIRNAME_BYTES and name != config_dirname(long + "0")
    assert name == config_dirname(long) and config_dirname("seed=1") == "seed=1"


def test_output_paths_are_checked_before_any_work(finished_run, tmp_path):
    line = _one_line(_cli("eval", str(finished_run), "--output", str(tmp_path)))
    assert line == f"error: --output {tmp_path}: is a folder; expected a file path (e.g. {tmp_path / 'out.json'})"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line(_cli("report", str(finished_run.parent), "--plots", str(blocker)))
    assert line == f"error: --plots {blocker}: is an existing file; expected a folder (made if missing)"
    line = _one_line(_cli("eval", str(finished_run), "--output", str(blocker / "eval.json")))
    assert "is a file, not a folder" in line


def test_a_closed_pipe_ends_the_report_quietly(finished_run):
    proc = subprocess.Popen(
        [sys.executable, "-m", "genrl.cli.report", str(finished_run.parent)], env=SUBPROCESS_ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proc.stdout.close()  # `| head` that has read enough: every write now fails
    stderr = proc.stderr.read()
    assert proc.wait(timeout=200) == 0 and "Traceback" not in stderr and "BrokenPipe" not in stderr


# ---------------------------------------------------------------------------------------------------------
# 6. a sweep runs past a bad job, and says how many failed; 7. --help is genrl's own


def test_a_sweep_records_a_failed_job_and_runs_the_others(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_train(["-m", "algorithm.beta=-1,1", *SMOKE, f"hydra.sweep.dir={sweep}"], tmp_path, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: algorithm.beta=-1.0: expected >= 0" in lines
    assert lines[-1].startswith("error: 1 of 2 jobs of the sweep failed their checks")
    results = list(sweep.rglob("results.json"))
    assert len(results) == 1 and "algorithm.beta=1" in str(results[0])  # beta=1 ran
    assert not list(sweep.glob("algorithm.beta=-1*/**/checkpoint.pt"))
    report = _cli("report", str(sweep))
    assert report.returncode == 0 and "1 job(s) of these sweeps failed their checks" in report.stdout


def test_help_is_genrls_own_and_schema_choices_are_refused(tmp_path):
    proc = run_train(["--help"], tmp_path)
    assert "_schema" not in proc.stdout and "genrl-eval" in proc.stdout and "docs/" in proc.stdout
    algorithms = next(line for line in proc.stdout.splitlines() if line.startswith("  algorithm "))
    assert {"bc", "gmpg", "gmpo", "iql"} <= set(algorithms.split(None, 1)[1].split(", ")) and "tuning" in proc.stdout
    assert len(proc.stdout.splitlines()) < 50
    run = tmp_path / "run"
    line = _one_line(_train(run, "algorithm=gmpo_schema"))
    assert line.startswith("error: algorithm=gmpo_schema: an internal schema, not an option")
    _nothing_written(run)
