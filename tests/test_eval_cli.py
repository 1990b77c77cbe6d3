"""genrl-eval RUN_DIR: a trained run's policy evaluated from the shell, with the run's settings or overrides."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SUBPROCESS_ENV, run_train


def genrl_eval(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrl.cli.eval", *map(str, args)], env={**SUBPROCESS_ENV, **(env or {})},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    run_train(["budget=smoke", "logger=none", "sampling.candidates=2", f"hydra.run.dir={root / 'run'}"], root)
    return root / "run"


def test_genrl_eval_is_a_console_script():
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("genrl-eval") == "genrl.cli.eval:main"


@pytest.mark.slow
def test_defaults_are_the_runs_final_evaluation_and_the_summary_is_written_atomically(run_dir, tmp_path):
    out = tmp_path / "eval.json"
    proc = genrl_eval(run_dir, "--output", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary == json.loads(out.read_text()) and not list(tmp_path.glob(".*.tmp"))
    run = json.loads((run_dir / "results.json").read_text())
    assert (summary["eval_env"], summary["env"], summary["algorithm"]) == ("Pendulum-v1", "demo", "gmpo")
    assert summary["episodes"] == run["final_episodes"] == 2 and summary["seed"] == 100_000  # seed + seed_offset
    assert summary["sampling"] == run["sampling"] and summary["sampling"]["candidates"] == 2
    assert len(summary["returns"]) == len(summary["scores"]) == 2 and summary["lengths"] == [20, 20]
    assert summary["score"] == pytest.approx(sum(summary["scores"]) / 2)


@pytest.mark.slow
def test_overrides_and_the_same_seed_gives_the_same_episodes(run_dir):
    args = (run_dir, "--episodes", "3", "--seed", "5", "--candidates", "1", "--noise-scale", "0.5")
    first, second = genrl_eval(*args), genrl_eval(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert (a["episodes"], a["seed"], a["sampling"]["candidates"], a["sampling"]["noise_scale"]) == (3, 5, 1, 0.5)
    assert a["returns"] == b["returns"] and len(a["returns"]) == 3


def test_a_missing_run_folder_is_one_line(tmp_path):
    proc = genrl_eval(tmp_path / "nowhere")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such run folder or checkpoint"


def test_help_says_how_to_record_videos_headless():
    proc = genrl_eval("--help")
    assert proc.returncode == 0 and "MUJOCO_GL=egl" in proc.stdout and "osmesa" in proc.stdout


@pytest.mark.slow
def test_video_records_one_file_per_episode(run_dir, tmp_path):
    videos = tmp_path / "videos"
    proc = genrl_eval(run_dir, "--episodes", "2", "--video", videos, env={"SDL_VIDEODRIVER": "dummy"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    names = sorted(p.name for p in videos.glob("*.mp4"))
    assert names == ["Pendulum-v1-episode-0.mp4", "Pendulum-v1-episode-1.mp4"]
    assert [Path(v).name for v in summary["videos"]] == names and all((videos / n).stat().st_size > 0 for n in names)


@pytest.mark.slow
def test_a_guidance_scale_for_a_policy_without_guidance_is_one_line(run_dir):
    proc = genrl_eval(run_dir, "--episodes", "1", "--guidance-scale", "2")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: --guidance-scale 2.0: algorithm=gmpo acts without guidance (a guided policy, algorithm=qgpo, has a "
        "guidance scale)"
    )
    proc = genrl_eval(run_dir, "--guidance-scale", "-1")
    assert proc.returncode == 2 and "--guidance-scale: expected a number >= 0, got -1" in proc.stderr
