"""Finding a usable SLURM cluster for the tests that need one (shared by the SLURM test modules).

``GENRL_REQUIRE_SLURM=1`` (set by .ci/run, which starts a real local cluster) turns "no cluster" from a skip
into a failure, so CI cannot pass with the SLURM tests silently skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

PARTITION = os.environ.get("GENRL_SLURM_PARTITION", "debug")


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _cluster_skip_reason() -> str | None:
    if shutil.which("sbatch") is None:
        return "sbatch not on PATH: apt-get install -y slurm-wlm munge, then bash scripts/slurm_local_cluster.sh"
    try:
        # `scontrol ping` fails at once when slurmctld is down (sinfo retries for ~9 s first)
        ping = _run(["scontrol", "ping"], timeout=15)
        if ping.returncode != 0:
            first = (ping.stdout.strip().splitlines() or [ping.stderr.strip()])[0]
            return f"slurmctld does not answer ({first}): run bash scripts/slurm_local_cluster.sh"
        res = _run(["sinfo", "-h", "-p", PARTITION, "-o", "%P %a %D %T"], timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo does not answer ({exc!r}): start the cluster with bash scripts/slurm_local_cluster.sh"
    if res.returncode != 0:
        return f"sinfo failed (slurmctld down?): {res.stderr.strip()[:200]}"
    if not res.stdout.strip():
        return f"no partition {PARTITION!r} on this cluster (set GENRL_SLURM_PARTITION)"
    if " up " not in f" {res.stdout} ":
        return f"partition {PARTITION!r} is not up: {res.stdout.strip()}"
    return None




def _slurm_config() -> dict[str, str]:
    out = _run(["scontrol", "show", "config"]).stdout
    conf = {}
    for line in out.splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            conf[key.strip()] = value.strip()
    return conf


def require_cluster() -> None:
    """Skip the calling module (with the reason) when no cluster answers; fail instead under GENRL_REQUIRE_SLURM."""
    reason = _cluster_skip_reason()
    if reason is None:
        return
    if os.environ.get("GENRL_REQUIRE_SLURM") == "1":
        pytest.fail(f"GENRL_REQUIRE_SLURM=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
