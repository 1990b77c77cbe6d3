"""The run folder's layout, defined once: every file a run writes there, and what may change on resume."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from genrl.errors import ConfigError

CHECKPOINT_FILE = "checkpoint.pt"
RESULTS_FILE = "results.json"
CONFIG_FILE = "config.yaml"  # the run's resolved configuration
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".genrl.lock"
HYDRA_SUBDIR = ".hydra"  # Hydra's config.yaml, hydra.yaml, overrides.yaml (train.py writes them)
#: Config keys that may change between a run and its resumption (they do not change the result).
RESUMABLE_KEYS = ("logger", "checkpoint", "device", "eval.vectorization", "eval.num_envs")
NO_PATH = "none"  # ``path=none``, and results.json's ``path`` of an algorithm whose policy is not generative
FAILED_JOBS_DIR = "failed_jobs"  # in a sweep folder: one JSON per job that failed its checks (train.py)


def failed_job_file(sweep_dir: Path, run_dir: Path) -> Path:
    """Where a sweep records that the job of ``run_dir`` failed its checks: ``<sweep>/failed_jobs/<hash>.json``."""
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:12]
    return Path(sweep_dir) / FAILED_JOBS_DIR / f"{digest}.json"


def check_resumable(
    run_dir: Path,
    config: dict[str, Any],
    stored: dict[str, Any] | None,
    fingerprint: dict[str, Any] | None = None,
    stored_fingerprint: dict[str, Any] | None = None,
) -> None:
    """Refuse to resume a checkpoint (its config ``stored``; None: none) of another configuration, or of other
    data (its ``stored_fingerprint`` differs from this run's ``fingerprint``, from
    :func:`genrl.data.fingerprint.dataset_fingerprint`)."""
    if stored is None:
        return
    if fingerprint and stored_fingerprint and _data_changed(fingerprint, stored_fingerprint):
        raise ConfigError(
            f"{run_dir} holds a checkpoint trained on other data: dataset.path={fingerprint['path']} changed "
            f"(sha256 {stored_fingerprint['sha256'][:12]}…, {stored_fingerprint['bytes']} bytes then; "
            f"{fingerprint['sha256'][:12]}…, {fingerprint['bytes']} bytes now); to start fresh choose another "
            "folder with hydra.run.dir=... or delete it"
        )
    differing = [k for k in differing_keys(config, stored) if not k.startswith(RESUMABLE_KEYS)]
    if differing:
        raise ConfigError(
            f"{run_dir} holds a checkpoint of a different configuration (differs at: "
            f"{', '.join(differing[:5])}); choose another folder with hydra.run.dir=... or delete it"
        )


def differing_keys(config: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The dotted keys (``critic.polyak``) whose values differ between two resolved configs, sorted."""
    ours, theirs = _flatten(config), _flatten(other)
    return sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _data_changed(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return (ours.get("sha256"), ours.get("bytes")) != (theirs.get("sha256"), theirs.get("bytes"))
