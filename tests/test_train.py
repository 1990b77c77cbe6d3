"""train.py end to end, as a user runs it: outputs, resumption after a kill, user errors, the deployable agent."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, SUBPROCESS_ENV, VOLATILE, run_train
from genrl import Agent

pytestmark = pytest.mark.slow  # every test here runs train.py

RESULT_KEYS = {
    "algorithm", "path", "env", "seed", "score_final", "score_best", "return_mean", "return_std", "dataset_score",
    "dataset_transitions", "steps", "wall_time_s", "device", "eval_env", "curve", "budget", "torch_threads",
}  # fmt: skip
DEMO_TRANSITIONS, DEMO_SCORE = 60_000, 46.01  # scripts/make_demo_dataset.py


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def stable(res: dict) -> dict:
    """results.json without the fields that legitimately differ between two identical runs."""
    return {k: v for k, v in res.items() if k not in VOLATILE}


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_smoke_run_writes_every_output(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=gmpg", "path=icfm", "seed=7"], tmp_path)
    run_dir = tmp_path / "run"
    res = results(run_dir)
    assert res.keys() >= RESULT_KEYS
    identity = (res["algorithm"], res["path"], res["env"], res["seed"], res["eval_env"])
    assert identity == ("gmpg", "icfm", "demo", 7, "Pendulum-v1")
    assert res["dataset_transitions"] == DEMO_TRANSITIONS
    assert res["dataset_score"] == pytest.approx(DEMO_SCORE, abs=0.01)
    assert res["phase_steps"] == {"behaviour": 6, "critic": 6, "policy": 6} and res["steps"] == 18
    assert res["score_best"] >= res["score_final"] and np.isfinite(res["score_final"])
    assert res["curve"]["step"] == [3, 6] and res["curve"]["score"][-1] == res["score_final"]
    lines = records(run_dir)
    assert {(r["event"], r["phase"]) for r in lines} == {
        ("train", "behaviour"), ("train", "critic"), ("train", "policy"), ("eval", "policy")
    }
    assert all(np.isfinite(v) for r in lines for v in r.values() if isinstance(v, float))
    assert "seed: 7" in (run_dir / "config.yaml").read_text()
    assert (run_dir / "checkpoint.pt").exists() and not list(run_dir.glob(".*.tmp"))


def test_rerunning_a_finished_run_does_not_train_again(tmp_path, smoke_args):
    run_train(smoke_args, tmp_path)
    first = results(tmp_path / "run")
    n_lines = len(records(tmp_path / "run"))
    start = time.monotonic()
    run_train(smoke_args, tmp_path)
    second = results(tmp_path / "run")
    assert stable(first) == stable(second)
    assert len(records(tmp_path / "run")) == n_lines
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(
    ("sig", "every_minutes"),
    [
        (signal.SIGKILL, "0"),  # hard kill: resume from the last periodic checkpoint (here: every step)
        (signal.SIGTERM, "1000"),  # preemption: no periodic checkpoint, the signal itself must save one
    ],
)
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, sig, every_minutes):
    args = ["budget=smoke", "budget.steps=25", "logger=none", f"checkpoint.every_minutes={every_minutes}"]
    args.append("algorithm=gmpg")
    run_train([*args, f"hydra.run.dir={tmp_path / 'straight'}"], tmp_path)
    interrupted = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *args, f"hydra.run.dir={interrupted}"],
        cwd=tmp_path, env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # interrupt it inside the critic phase
        log = interrupted / "metrics.jsonl"
        if log.exists() and '"phase": "critic"' in log.read_text():
            proc.send_signal(sig)
            break
        time.sleep(0.01)
    assert proc.wait(timeout=60) == -sig, "the run finished before it could be interrupted"
    assert not (interrupted / "results.json").exists()
    if sig == signal.SIGTERM:  # the signal's own checkpoint, written at the next step boundary
        position = torch.load(interrupted / "checkpoint.pt", weights_only=False)["position"]
        assert position["phase_index"] == 1 and 0 < position["step"] < 25, f"no mid-phase checkpoint: {position}"
    run_train([*args, f"hydra.run.dir={interrupted}"], tmp_path)

    straight, resumed = results(tmp_path / "straight"), results(interrupted)
    assert stable(straight) == stable(resumed)
    assert resumed["sessions"] == 2 and resumed["resumed_at"][0]["phase"] in ("behaviour", "critic")
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["algorithm"]["policy"]
    b = torch.load(interrupted / "checkpoint.pt", weights_only=False)["algorithm"]["policy"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert records(tmp_path / "straight") == records(interrupted)  # no duplicated or lost log lines


def test_resuming_with_a_different_configuration_is_refused(tmp_path, smoke_args):
    run_train(smoke_args, tmp_path)
    proc = run_train([*smoke_args, "algorithm.beta=3"], tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "algorithm.beta" in proc.stderr
    assert "Traceback" not in proc.stderr


def write_npz(path: Path, **changes) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "obs": rng.normal(size=(50, 3)).astype(np.float32),
        "action": rng.uniform(-2, 2, size=(50, 1)).astype(np.float32),
        "next_obs": rng.normal(size=(50, 3)).astype(np.float32),
        "reward": rng.normal(size=50).astype(np.float32),
        "done": np.zeros(50, dtype=np.float32),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"action": None}, "action"),
        ({"reward": np.full(50, np.nan, dtype=np.float32)}, "reward"),
        ({"obs": np.zeros((50, 5), np.float32), "next_obs": np.zeros((50, 5), np.float32)}, "Pendulum-v1"),
        ({"action": np.full((50, 1), 7.0, dtype=np.float32)}, "action"),
    ],
)
def test_bad_data_is_one_line_naming_file_and_key(tmp_path, smoke_args, changes, expected):
    data = write_npz(tmp_path / "bad.npz", **changes)
    args = ["dataset=npz", f"dataset.path={data}", "env.eval_env_id=Pendulum-v1"]  # a file of yours: env=custom
    proc = run_train([*smoke_args, *args], tmp_path, check=False)
    assert proc.returncode == 2
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "bad.npz" in message and expected in message
    assert "Traceback" not in proc.stderr


def test_missing_dataset_file_says_what_to_put_where(tmp_path, smoke_args):
    proc = run_train(
        [*smoke_args, "env=hopper-medium-v2", f"dataset.cache_dir={tmp_path}", "dataset.download=false"],
        tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "hopper_medium-v2.hdf5" in proc.stderr and str(tmp_path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_agent_acts_from_a_checkpoint(tmp_path, smoke_args):
    run_train(smoke_args, tmp_path)
    agent = Agent.from_checkpoint(tmp_path / "run")
    obs = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    assert agent.act(obs).shape == (1,)
    assert agent.act(np.stack([obs] * 4)).shape == (4, 1)
    torch.manual_seed(0)
    a = agent.act(obs)
    torch.manual_seed(0)
    np.testing.assert_array_equal(a, agent.act(obs))


def test_wandb_offline_never_prompts_and_groups_seeds(tmp_path, smoke_args):
    env = {**SUBPROCESS_ENV}
    env.pop("WANDB_MODE")
    args = [a for a in smoke_args if a != "logger=none"] + ["logger=wandb", "seed=3"]
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1


def test_training_on_a_local_minari_dataset(tmp_path, smoke_args, monkeypatch):
    """env=minari takes the evaluation env and reference scores from the dataset's metadata."""
    from test_data_minari import create, pendulum_episode

    root = str(tmp_path / "minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", root)
    rng = np.random.default_rng(0)
    episodes = [pendulum_episode(i, 30, terminated=False, rng=rng) for i in range(4)]
    create("local/pendulum-v0", episodes, env="Pendulum-v1", ref_min_score=-1500.0, ref_max_score=-150.0)
    args = [*smoke_args, "env=minari", "dataset.dataset_id=local/pendulum-v0"]
    run_train(args, tmp_path, env={"MINARI_DATASETS_PATH": root})
    res = results(tmp_path / "run")
    assert (res["env"], res["eval_env"], res["dataset_transitions"]) == ("local/pendulum-v0", "Pendulum-v1", 120)
