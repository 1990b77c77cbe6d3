"""A real SLURM cluster runs genrl's jobs: submitit results, job arrays, requeue (docs/slurm.md).

Needs a running cluster, e.g. the one-node cluster of ``bash scripts/slurm_local_cluster.sh``
(as root, after ``apt-get install -y slurm-wlm munge``). Skipped with a reason otherwise.

Environment knobs:
  GENRL_SLURM_PARTITION  partition to submit to (default ``debug``)
  GENRL_SLURM_TEST_DIR   base folder for job logs; must be visible from the compute nodes
                         (default: pytest's tmp_path, fine for the one-node local cluster)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from slurm_support import PARTITION, _run, _slurm_config, require_cluster

pytestmark = pytest.mark.slurm



require_cluster()

submitit = pytest.importorskip("submitit")


# ----------------------------------------------------------------------------- helpers


def _seconds(text: str | None, key: str | None = None, default: int = 0) -> int:
    """`30 sec` -> 30; with key, `cred_expire=10,...` -> 10."""
    if not text:
        return default
    if key is not None:
        m = re.search(rf"{key}=(\d+)", text)
        return int(m.group(1)) if m else default
    m = re.match(r"\s*(\d+)", text)
    return int(m.group(1)) if m else default


def _job_info(job_id: str) -> str:
    res = _run(["scontrol", "show", "job", str(job_id)])
    return (res.stdout or res.stderr).strip()


def _job_state(job_id: str) -> str:
    """`STATE|REASON` from squeue, '' once the job left the queue (MinJobAge)."""
    res = _run(["squeue", "-h", "-j", str(job_id), "-o", "%T|%r"])
    return res.stdout.strip() if res.returncode == 0 else ""


def _wait(pred: Callable[[], bool], timeout: float, what: str, job_id: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.5)
    if pred():
        return
    details = ""
    if job_id is not None:
        details = f"\nsqueue: {_job_state(job_id)!r}\nscontrol show job:\n{_job_info(job_id)}"
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{details}")


def _sbatch(*args: str) -> str:
    res = _run(["sbatch", "--parsable", f"--partition={PARTITION}", *args])
    assert res.returncode == 0, f"sbatch failed: {res.stderr.strip()}"
    return res.stdout.strip().split(";")[0]


def _cancel(job_ids: list[str]) -> None:
    ids = [str(j).split("_")[0] for j in job_ids if j]
    if ids:
        _run(["scancel", *sorted(set(ids))])


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def job_dir(tmp_path: Path) -> Iterator[Path]:
    base = os.environ.get("GENRL_SLURM_TEST_DIR")
    if base:
        d = Path(base) / f"genrl-slurm-test-{uuid.uuid4().hex[:8]}"
        d.mkdir(parents=True)
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


@pytest.fixture
def executor(job_dir: Path):
    # accounting_storage/none: submitit's sacct calls fail and it logs one warning per poll.
    # That is harmless (job.done() goes by the result pickle); keep the test output readable.
    logging.getLogger("submitit").setLevel(logging.ERROR)
    ex = submitit.AutoExecutor(folder=job_dir / "submitit" / "%j", cluster="slurm")
    ex.update_parameters(slurm_partition=PARTITION, timeout_min=5, cpus_per_task=1)
    return ex


def _wait_result(job, timeout: float):
    """job.result() with a bound: with accounting off submitit cannot see a killed job's state."""
    _wait(job.done, timeout, f"submitit job {job.job_id} to finish", job_id=str(job.job_id).split("_")[0])
    return job.result()


# ----------------------------------------------------------------------------- tests


def test_submitit_job_returns_value(executor):
    def job_fn(x):  # nested: cloudpickle ships it by value (the job cannot import this test module)
        import os
        import socket
        import sys

        return {
            "value": x * 2,
            "python": sys.executable,
            "job_id": os.environ.get("SLURM_JOB_ID"),
            "host": socket.gethostname(),
        }

    job = executor.submit(job_fn, 21)
    try:
        out = _wait_result(job, 60)
    finally:
        _cancel([job.job_id])
    assert out["value"] == 42
    assert out["job_id"] == str(job.job_id)
    # submitit runs the job with the submitting interpreter (here: the venv's python).
    assert out["python"] == sys.executable


def test_submitit_job_array_returns_all_values(executor):
    def square(x):
        import os

        return x * x, os.environ.get("SLURM_ARRAY_TASK_ID")

    jobs = executor.map_array(square, [1, 2, 3])
    try:
        assert len(jobs) == 3
        assert len({str(j.job_id).split("_")[0] for j in jobs}) == 1, "map_array must be one SLURM array"
        results = [_wait_result(j, 60) for j in jobs]
    finally:
        _cancel([j.job_id for j in jobs])
    assert [r[0] for r in results] == [1, 4, 9]
    assert sorted(r[1] for r in results) == ["0", "1", "2"]


def test_two_one_cpu_jobs_run_side_by_side(job_dir):
    idle = _run(["sinfo", "-h", "-p", PARTITION, "-o", "%C"]).stdout.strip()  # alloc/idle/other/total
    parts = idle.split("/") if idle else []
    if len(parts) != 4 or int(parts[1]) < 2:
        pytest.skip(f"needs 2 idle CPUs in {PARTITION!r} (sinfo %C = {idle!r})")
    stamps = [job_dir / f"side_{i}.txt" for i in range(2)]
    ids = []
    try:
        for s in stamps:
            ids.append(_sbatch("-c1", "-o", "/dev/null", "--wrap", f"date +%s.%N > {s}; sleep 4; date +%s.%N >> {s}"))
        for i, s in zip(ids, stamps, strict=True):
            _wait(lambda s=s: len(_lines(s)) == 2, 40, f"job {i} to write start and end", job_id=i)
    finally:
        _cancel(ids)
    (a0, a1), (b0, b1) = ([float(x) for x in _lines(s)] for s in stamps)
    assert max(a0, b0) < min(a1, b1), f"1-CPU jobs did not overlap: {a0:.1f}-{a1:.1f} vs {b0:.1f}-{b1:.1f}"


def test_sbatch_job_requeued_while_running_runs_again_and_completes(job_dir):
    conf = _slurm_config()
    cred_expire = _seconds(conf.get("AuthInfo"), "cred_expire", default=120)
    sched_interval = _seconds(conf.get("SchedulerParameters"), "sched_interval", default=60)
    # A requeued job stays PENDING (Reason=BeginTime) for cred_expire + 1 s, then waits for the next
    # main-scheduler pass. The local cluster sets 10 s and 5 s; on a cluster with Slurm's defaults
    # (120 s, 60 s) nudge it with `scontrol update StartTime=now` so the test stays fast.
    nudge = cred_expire + sched_interval > 40

    marker = job_dir / "requeue_marker.txt"
    out = job_dir / "requeue_%j.out"
    script = (
        f'echo "start restart=${{SLURM_RESTART_COUNT:-0}} job=$SLURM_JOB_ID" >> {marker}; '
        # the first run sleeps long enough to be requeued; the rerun finishes at once
        'if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 120; fi; '
        f'echo "end restart=${{SLURM_RESTART_COUNT:-0}}" >> {marker}'
    )
    job_id = _sbatch("--requeue", "-c1", "-o", str(out), "--wrap", script)
    try:
        _wait(lambda: len(_lines(marker)) >= 1, 30, "the first run to start", job_id=job_id)
        res = _run(["scontrol", "requeue", job_id])
        assert res.returncode == 0, f"scontrol requeue {job_id} failed: {res.stderr.strip()}"
        t_requeue = time.monotonic()

        def restarted() -> bool:
            if nudge and _job_state(job_id).startswith("PENDING|BeginTime"):
                _run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])
            return any(line.startswith("start restart=1") for line in _lines(marker))

        # bash dies at the SIGTERM at once, so KillWait does not come into it
        _wait(
            restarted,
            (0 if nudge else cred_expire + sched_interval) + 30,
            "the requeued job to run again",
            job_id=job_id,
        )
        restart_s = time.monotonic() - t_requeue
        _wait(
            lambda: any(line.startswith("end restart=1") for line in _lines(marker)),
            30,
            "the rerun to finish",
            job_id=job_id,
        )
        _wait(
            lambda: not _job_state(job_id).startswith(("RUNNING", "COMPLETING", "PENDING")),
            30,
            "the job to leave RUNNING/COMPLETING",
            job_id=job_id,
        )
    finally:
        _cancel([job_id])
    lines = _lines(marker)
    starts = [line for line in lines if line.startswith("start")]
    assert starts == [f"start restart=0 job={job_id}", f"start restart=1 job={job_id}"], (
        f"expected two starts of job {job_id} (same id), got {lines}"
    )
    assert "end restart=0" not in lines, f"the first run was not killed by the requeue: {lines}"
    assert "Restarts=1" in _job_info(job_id) or _job_state(job_id) == "", _job_info(job_id)
    print(f"requeued job {job_id} ran again {restart_s:.1f} s after scontrol requeue")


def test_submitit_job_preempted_with_usr2_requeues_itself_and_completes(executor, job_dir):
    """SLURM's preemption/timeout warning is --signal=USR2@90 (submitit's default): submitit's handler
    calls `scontrol requeue` itself and the job reruns. timeout_min must exceed 10: with a shorter
    limit submitit counts every USR2 as a timeout and, without a checkpoint method, does not requeue."""
    marker = job_dir / "submitit_requeue_marker.txt"

    def run_once_then_finish(marker_path):
        import os
        import time

        restart = os.environ.get("SLURM_RESTART_COUNT", "0")
        with open(marker_path, "a") as fh:
            fh.write(f"start restart={restart} job={os.environ.get('SLURM_JOB_ID')}\n")
        if restart == "0":
            time.sleep(120)  # preempted during this sleep
        return f"finished after restart {restart}"

    executor.update_parameters(timeout_min=60)
    job = executor.submit(run_once_then_finish, str(marker))
    try:
        _wait(lambda: len(_lines(marker)) >= 1, 30, "the first run to start", job_id=job.job_id)
        time.sleep(1.0)  # let submitit's signal handlers be installed (they are, before the function runs)
        res = _run(["scancel", "--signal=USR2", str(job.job_id)])
        assert res.returncode == 0, f"scancel --signal=USR2 failed: {res.stderr.strip()}"
        conf = _slurm_config()
        bound = (
            _seconds(conf.get("AuthInfo"), "cred_expire", 120)
            + _seconds(conf.get("SchedulerParameters"), "sched_interval", 60)
            + 30
        )

        def restarted() -> bool:
            if bound > 70 and _job_state(job.job_id).startswith("PENDING|BeginTime"):
                _run(["scontrol", "update", f"JobId={job.job_id}", "StartTime=now"])
            return len(_lines(marker)) >= 2

        _wait(restarted, min(bound, 70), "the preempted submitit job to run again", job_id=job.job_id)
        out = _wait_result(job, 40)
    finally:
        _cancel([job.job_id])
    assert out == "finished after restart 1"
    assert _lines(marker) == [f"start restart=0 job={job.job_id}", f"start restart=1 job={job.job_id}"]
