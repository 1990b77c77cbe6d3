"""Atomic file writes: a reader, a crash or a kill never leaves a half-written file at the target path."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from genrl.errors import GenrlError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_file(path: str | Path, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary handle on a temporary file beside ``path`` that replaces ``path`` (fsync, then ``os.replace``)
    when the block ends normally; on any exception the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as handle:
        handle.write(data)


def write_text(text: str, path: str | Path) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    write_bytes(text.encode("utf-8"), path)


def write_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON with a final newline to ``path`` atomically."""
    write_text(json.dumps(data, indent=2) + "\n", path)


def check_output_file(path: str | Path, option: str) -> None:
    """Before any compute: ``path`` can become a file (it is not a folder, and no part of its parent is a file)."""
    path = Path(path)
    if path.is_dir():
        raise GenrlError(f"{option} {path}: is a folder; expected a file path (e.g. {path / 'out.json'})")
    _check_parents(path, option)


def check_output_dir(path: str | Path, option: str) -> None:
    """Before any compute: ``path`` is a folder or can be made one (it is not an existing file, nor inside one)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GenrlError(f"{option} {path}: is an existing file; expected a folder (made if missing)")
    _check_parents(path, option)


def _check_parents(path: Path, option: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise GenrlError(f"{option} {path}: {parent} is a file, not a folder")
            return


def closed_pipe_safe(main: Callable[..., int]) -> Callable[..., int]:
    """A command-line ``main`` whose stdout may be closed early (``genrl-report runs/ | head``): it ends quietly
    with status 0 instead of a BrokenPipeError traceback (stdout goes to /dev/null so that the interpreter's
    final flush cannot fail either)."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()
            return status
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    return wrapper
