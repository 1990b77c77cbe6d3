"""Sweeps through hydra-submitit-launcher on a real SLURM cluster; a requeued job resumes (issue: sweeps).

Run `bash scripts/slurm_local_cluster.sh` (as root, after `apt-get install -y slurm-wlm munge`) to get one.
"""

import json
import subprocess
import sys
import time
import uuid

import pytest

from conftest import REPO, SUBPROCESS_ENV, VOLATILE, run_train
from slurm_support import PARTITION, _run, _slurm_config, require_cluster
from sweeps import SWEEP_ARGS, assert_report_equals_aggregates, multirun

pytestmark = pytest.mark.slurm
require_cluster()

LAUNCHER = [
    "hydra/launcher=submitit_slurm", f"hydra.launcher.partition={PARTITION}", "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=30",
]  # fmt: skip


def test_slurm_sweep_and_report(tmp_path):
    sweep = tmp_path / "sweep"
    multirun([*SWEEP_ARGS, *LAUNCHER, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert_report_equals_aggregates(sweep)
    assert list((sweep / ".submitit").iterdir()), "the jobs did not go through submitit"


def _job_id(name: str) -> str | None:
    out = _run(["squeue", "-h", "-n", name, "-o", "%i %T"]).stdout.split()
    return out[0].split("_")[0] if len(out) >= 2 and out[1] == "RUNNING" else None


def test_requeued_job_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_run(tmp_path):
    # On requeue SLURM sends SIGTERM (genrl checkpoints at the next step and trains on), SIGKILL KillWait seconds
    # later, then restarts the job under the same id. Size the run (≤ ~40 ms a step) to outlast KillWait.
    kill_wait = int(_slurm_config().get("KillWait", "30 sec").split()[0])
    steps = 300 + 60 * kill_wait
    args = ["budget=smoke", f"budget.steps={steps}", "logger=none", "checkpoint.every_minutes=0", "seed=5"]
    sweep = tmp_path / "sweep"
    name = f"genrl-requeue-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "-m", *args, *LAUNCHER, f"hydra.launcher.name={name}",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=SUBPROCESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        run_dir = sweep / f"budget.steps={steps},budget=smoke" / "seed=5"  # checkpoint.* is not in the name
        job_id, metrics = None, run_dir / "metrics.jsonl"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (job_id and metrics.exists() and '"critic"' in metrics.read_text()):
            job_id = job_id or _job_id(name)
            time.sleep(0.2)
        assert job_id, "the job never started"
        assert _run(["scontrol", "requeue", job_id]).returncode == 0
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            if job_id:
                _run(["scancel", job_id])

    requeued = json.loads((run_dir / "results.json").read_text())
    assert "Restarts=1" in _run(["scontrol", "show", "job", job_id]).stdout or requeued["sessions"] == 2
    assert requeued["sessions"] == 2
    resumed = requeued["resumed_at"][0]
    assert (resumed["phase"], resumed["step"]) != ("policy", steps), "the job had finished before the requeue"

    run_train([*args, f"hydra.run.dir={tmp_path / 'straight'}"], tmp_path, timeout=600)
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())
    assert {k: v for k, v in requeued.items() if k not in VOLATILE} == {
        k: v for k, v in straight.items() if k not in VOLATILE
    }
