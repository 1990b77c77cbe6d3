"""Atomic HTTP download with a progress bar."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from genrl.errors import DatasetError, one_line
from genrl.io import atomic_file

_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60.0


def download(url: str, dest: Path) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    The bytes go to a temporary file next to ``dest`` that is renamed onto it only when complete, so ``dest``
    never holds a partial file. On any failure the temporary file is removed and a one-line DatasetError
    names the URL, the destination and the cause.
    """
    dest = Path(dest)
    try:
        with atomic_file(dest, suffix=".part") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            _copy_with_progress(response, out, _content_length(response), dest.name)
    except Exception as exc:  # KeyboardInterrupt and friends propagate unchanged (the partial file is removed)
        raise DatasetError(f"could not download {url} to {dest}: {one_line(exc)}") from exc
    return dest


def _content_length(response: object) -> int | None:
    value = getattr(response, "headers", {}).get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _copy_with_progress(source: BinaryIO, out: BinaryIO, total: int | None, label: str) -> None:
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label) as bar:
        while chunk := source.read(_CHUNK_BYTES):
            out.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes")
