"""env.kwargs: options of the evaluation env, checked at start, used by evaluation and genrl-eval, recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.box2d import lunar_lander

from conftest import SUBPROCESS_ENV, run_train
from genrl import config_checks
from genrl.config_checks import check_env_id
from genrl.errors import ConfigError

LUNAR = ["env.name=lunar", "env.eval_env_id=LunarLander-v3", "env.kwargs={continuous: true}",
         "env.ref_min_score=-200", "env.ref_max_score=200"]  # fmt: skip


def _lunar_npz(path: Path, steps: int = 400, pilot: bool = False) -> Path:
    """Transitions of continuous LunarLander (random actions, or Gymnasium's scripted pilot), in the npz layout."""
    env = gym.make("LunarLander-v3", continuous=True)
    env.action_space.seed(0)
    columns = {key: [] for key in ("obs", "action", "next_obs", "reward", "done")}
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        action = lunar_lander.heuristic(env.unwrapped, obs) if pilot else env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(columns, (obs, action, next_obs, reward, float(terminated))):
            columns[key].append(value)
        obs = env.reset()[0] if terminated or truncated else next_obs
    env.close()
    np.savez(path, **{key: np.asarray(value, dtype=np.float32) for key, value in columns.items()})
    return path


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"genrl.cli.{module}", *args],
        env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_readme_walkthrough_continuous_lunar_lander(tmp_path):
    """README's custom-task walk-through: npz → genrl-reference → train → genrl-eval → genrl-report."""
    pytest.importorskip("Box2D", reason='LunarLander needs Box2D: pip install -e ".[box2d]"')
    data = _lunar_npz(tmp_path / "lunar.npz")
    proc = _cli("reference", "LunarLander-v3", "--kwargs", "{continuous: true}", "--expert", "heuristic",
                "--episodes", "3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = json.loads(proc.stdout)
    assert reference["ref_max_score"] > 100 > 0 > reference["ref_min_score"]  # the pilot lands, random crashes
    assert proc.stderr.strip().splitlines()[-1].startswith("env.ref_min_score=")
    run = tmp_path / "runs" / "seed0"
    run_train(["env=lunarlander-continuous", f"dataset.path={data}", "budget=smoke", "logger=none",
               f"hydra.run.dir={run}"], tmp_path)  # fmt: skip
    results = json.loads((run / "results.json").read_text())
    assert results["env"] == "lunarlander-continuous" and results["eval_env"] == "LunarLander-v3"
    assert results["eval_env_kwargs"] == {"continuous": True} and results["score_final"] is not None
    proc = _cli("eval", str(run), "--episodes", "2")  # rebuilds the env with the run's kwargs
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["eval_env"] == "LunarLander-v3"
    proc = _cli("report", str(tmp_path / "runs"))
    assert proc.returncode == 0 and "lunarlander-continuous" in proc.stdout and "[not comparable]" in proc.stdout


def test_reference_from_a_datasets_best_episodes(tmp_path):
    pytest.importorskip("Box2D")
    args = ["LunarLander-v3", "--kwargs", "{continuous: true}", "--top", "1", "--episodes", "3"]
    proc = _cli("reference", *args, "--dataset", str(_lunar_npz(tmp_path / "pilot.npz", steps=1500, pilot=True)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["competent"]["n"] >= 2 and summary["ref_max_score"] > 100  # the pilot's landed episodes
    proc = _cli("reference", "Pendulum-v1", "--expert", "heuristic", "--episodes", "1")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: --expert heuristic: Gymnasium's scripted pilot flies LunarLander only, not Pendulum-v1"
    ]


def test_without_the_kwarg_the_discrete_lander_is_refused(tmp_path, smoke_args):
    pytest.importorskip("Box2D")
    data = _lunar_npz(tmp_path / "lunar.npz", steps=50)
    args = [a for a in LUNAR if not a.startswith("env.kwargs")]
    proc = run_train([*smoke_args, "dataset=npz", f"dataset.path={data}", *args], tmp_path, check=False)
    assert proc.returncode == 2 and "Discrete" in proc.stderr.strip().splitlines()[-1]


def test_an_unknown_keyword_fails_before_training_and_names_it(tmp_path, smoke_args):
    proc = run_train([*smoke_args, "env.kwargs={g: 9.81, gravty: 3}"], tmp_path, check=False)
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert line.startswith("error: env.kwargs.gravty: Pendulum-v1 takes no keyword 'gravty'") and "g" in line
    written = {p.name for p in (tmp_path / "run").iterdir()} if (tmp_path / "run").exists() else set()
    assert not written & {"checkpoint.pt", "results.json", "metrics.jsonl", "config.yaml"}  # nothing trained


@pytest.mark.parametrize(
    ("env_id", "kwargs", "expected"),
    [
        ("LunarLanderContinuous-v2", None, "use env.eval_env_id=LunarLander-v3 'env.kwargs={continuous: true}'"),
        ("BipedalWalkerHardcore-v2", None, "use env.eval_env_id=BipedalWalker-v3 'env.kwargs={hardcore: true}'"),
        ("Pendulum-v0", None, "Please use `Pendulum-v1` instead"),
        ("Pendulum-v1", {"max_episode_steps": 5}, "env.kwargs.max_episode_steps: not an env option of Pendulum-v1; "
         "set env.max_episode_steps instead"),
        ("Hopper-v4", {"ctrl_cost_weigth": 0.1}, "did you mean ctrl_cost_weight?"),
    ],
)  # fmt: skip
def test_removed_ids_and_bad_keywords_are_one_line(env_id, kwargs, expected):
    with pytest.raises(ConfigError) as err:
        check_env_id(env_id, kwargs=kwargs)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_valid_keywords_pass():
    check_env_id("Hopper-v4", kwargs={"ctrl_cost_weight": 0.1, "terminate_when_unhealthy": False})
    check_env_id("Pendulum-v1", kwargs={"g": 9.81})


def test_a_missing_box2d_names_genrls_extra(monkeypatch):
    def missing(entry_point):
        raise gym.error.DependencyNotInstalled(  # Gymnasium's own message
            "Box2D is not installed, you can install it by run `pip install swig` followed by "
            '`pip install "gymnasium[box2d]"`'
        )

    monkeypatch.setattr(config_checks, "load_env_creator", missing)
    with pytest.raises(ConfigError) as err:
        check_env_id("LunarLander-v3", kwargs={"continuous": True})
    assert str(err.value) == (
        "env.eval_env_id=LunarLander-v3: cannot be made (Box2D is not installed); install it with "
        'pip install "genrl[box2d]" (Box2D for LunarLander, BipedalWalker, CarRacing)'
    )
