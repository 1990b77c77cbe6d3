"""Atomic HTTP download with a progress bar, and SHA-256 verification of what was downloaded."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from genrl.errors import ChecksumError, DatasetError, one_line
from genrl.io import atomic_file, write_text

_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60.0
#: The hash of a download with no known hash is recorded in ``<file>.sha256`` (``sha256sum`` format).
RECORD_SUFFIX = ".sha256"


def download(url: str, dest: Path) -> str:
    """Download ``url`` to ``dest``; return the SHA-256 (hex) of the bytes written.

    The bytes go to a temporary file next to ``dest`` that is renamed onto it only when complete, so ``dest``
    never holds a partial file. On any failure the temporary file is removed and a one-line DatasetError
    names the URL, the destination and the cause.
    """
    dest = Path(dest)
    digest = hashlib.sha256()
    try:
        with atomic_file(dest, suffix=".part") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            _copy_with_progress(response, out, _content_length(response), dest.name, digest)
    except Exception as exc:  # KeyboardInterrupt and friends propagate unchanged (the partial file is removed)
        raise DatasetError(f"could not download {url} to {dest}: {one_line(exc)}") from exc
    return digest.hexdigest()


def sha256_file(path: Path, spans: tuple[tuple[int, int], ...] | None = None) -> str:
    """The SHA-256 (hex) of a file, read in 1 MiB chunks: of all of it, or of its ``(start, length)`` ``spans``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for start, length in spans or ((0, Path(path).stat().st_size),):
            handle.seek(start)
            while length > 0 and (chunk := handle.read(min(_CHUNK_BYTES, length))):
                digest.update(chunk)
                length -= len(chunk)
    return digest.hexdigest()


def record_path(file: Path) -> Path:
    return file.with_name(file.name + RECORD_SUFFIX)


def recorded_sha256(file: Path) -> str | None:
    """The hash recorded beside ``file`` by :func:`fetch_verified`, or None."""
    record = record_path(file)
    if not record.is_file():
        return None
    fields = record.read_text().split()
    return fields[0].lower() if fields else None


def fetch_verified(url: str, file: Path, known_sha256: str | None, download_allowed: bool) -> Path:
    """``file``, verified by SHA-256, downloading it from ``url`` when absent or corrupt (if allowed).

    The expected hash is ``known_sha256`` (a published hash), else the one recorded beside the file
    (``<file>.sha256``) when it was first downloaded or loaded. A file without either is trusted once and its hash
    recorded, so every later load is checked against it. A mismatch re-downloads the file; a second mismatch
    (or a mismatch with downloads disabled) is one ChecksumError naming the file, the expected and the actual hash.
    """
    expected = (known_sha256 or recorded_sha256(file) or "").lower() or None
    origin = "the published hash" if known_sha256 else f"recorded in {record_path(file)}"
    mismatches: list[str] = []
    if file.is_file():
        actual = sha256_file(file)
        if expected is None or actual == expected:
            return _recorded(file, actual, known_sha256)
        mismatches.append(actual)
        if not download_allowed:
            raise _mismatch(file, expected, actual, origin, "download=False; delete the file to download it again")
    elif not download_allowed:
        raise FileNotFoundError(file)
    while True:
        actual = download(url, file)
        if expected is None or actual == expected:
            return _recorded(file, actual, known_sha256)
        mismatches.append(actual)
        if len(mismatches) >= 2:
            file.unlink(missing_ok=True)
            raise _mismatch(file, expected, actual, origin, f"downloaded again from {url} and still different")


def _recorded(file: Path, actual: str, known_sha256: str | None) -> Path:
    if not known_sha256 and recorded_sha256(file) != actual:
        write_text(f"{actual}  {file.name}\n", record_path(file))
    return file


def _mismatch(file: Path, expected: str, actual: str, origin: str, what_next: str) -> ChecksumError:
    return ChecksumError(f"{file}: SHA-256 mismatch: expected {expected} ({origin}), got {actual}; {what_next}")


def _content_length(response: object) -> int | None:
    value = getattr(response, "headers", {}).get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _copy_with_progress(source: BinaryIO, out: BinaryIO, total: int | None, label: str, digest) -> None:
    received = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label) as bar:
        while chunk := source.read(_CHUNK_BYTES):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes")
