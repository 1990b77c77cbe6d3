"""What identifies the data file a run reads: a resumed run, a checkpoint and the report refuse other data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genrl.data.download import sha256_file

#: Dataset files up to this size are hashed whole; a larger one by its size and three 16 MiB samples.
FULL_HASH_BYTES = 1 << 30
_SAMPLE_BYTES = 16 << 20


def dataset_fingerprint(config: dict[str, Any]) -> dict[str, Any] | None:
    """The size and SHA-256 of ``dataset.path`` (of the whole file up to :data:`FULL_HASH_BYTES`, else of its start,
    middle and end: ``sampled``); None when the run names no file (a D4RL download is checked against its own hash,
    a Minari dataset is its id)."""
    path = (config.get("dataset") or {}).get("path")
    file = Path(str(path)).expanduser() if path else None
    if file is None or not file.is_file():
        return None
    size = file.stat().st_size
    sampled = size > FULL_HASH_BYTES
    spans = tuple((start, _SAMPLE_BYTES) for start in (0, size // 2, size - _SAMPLE_BYTES)) if sampled else None
    return {"path": str(file.resolve()), "bytes": size, "sha256": sha256_file(file, spans), "sampled": sampled}
