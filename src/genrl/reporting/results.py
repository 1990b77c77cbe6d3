"""Find and load the ``results.json`` of finished runs, and group them by (env, algorithm, path).

Only the file's content counts, never the directory layout: every ``results.json`` below the given
directories is read, whatever the sweep's subdirectory names are. The resolved ``config.yaml`` that train.py
writes beside it is read too (``RunRecord.config``): genrl.reporting.configs compares runs with it.

A ``.jsonl`` file (the raw results benchmarks commit, e.g. ``docs/results/*.jsonl``) holds one run per line: a
results.json object, read and checked the same way, whose ``source`` is ``FILE:LINE``. Its runs have no
config.yaml.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genrl.errors import GenrlError
from genrl.run_folder import CONFIG_FILE, RESULTS_FILE

REQUIRED_STR_KEYS = ("algorithm", "path", "env")
REQUIRED_SCORE_KEYS = ("score_final", "score_best")
JSONL_SUFFIX = ".jsonl"  # a file of run records, one results.json object per line
D4RL_TASK = r"(halfcheetah|hopper|walker2d|ant)-(random|medium|expert|medium-replay|medium-expert|full-replay)-v\d"

Warn = Callable[[str], None]
GroupKey = tuple[str, str, str]  # (env, algorithm, path)


class ResultsError(GenrlError):
    """A results.json (or a JSONL line) cannot be used (unreadable, not JSON, or a required key is missing or
    mistyped), or a root is neither a directory, a results.json nor a JSONL file."""


def warn_stderr(message: str) -> None:
    """Print one ``warning: ...`` line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Curve:
    """Periodic evaluation history of the policy phase: ``step`` (gradient step) and normalized ``score``."""

    step: tuple[float, ...]
    score: tuple[float, ...]


@dataclass(frozen=True)
class RunRecord:
    """One finished run. ``algorithm`` and ``path`` are lower-cased; ``raw`` keeps the whole JSON object;
    ``source`` is its results.json, or ``FILE:LINE`` for a line of a JSONL file."""

    source: Path
    env: str
    algorithm: str
    path: str
    score_final: float
    score_best: float
    seed: int | None = None
    eval_env: str | None = None
    dataset_score: float | None = None
    curve: Curve | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    config: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # config.yaml, when present

    @property
    def key(self) -> GroupKey:
        """The aggregation key (env, algorithm, path)."""
        return (self.env, self.algorithm, self.path)

    @property
    def comparable(self) -> bool:
        """False when results.json says its scores are of capped episodes (``score_comparable``, e.g. a
        ``budget=smoke`` run); runs from before the flag count as comparable."""
        return self.raw.get("score_comparable") is not False

    @property
    def d4rl_scored(self) -> bool:
        """Whether the scores use D4RL's reference returns: the run read a D4RL dataset (its config.yaml says so;
        without one, the env is named like a D4RL task)."""
        if self.config is not None:
            dataset = self.config.get("dataset")
            return isinstance(dataset, dict) and "d4rl" in f"{dataset.get('name')} {dataset.get('_target_')}"
        return re.fullmatch(D4RL_TASK, self.env) is not None

    def metric(self, name: str) -> float:
        """The value of a score metric (``score_final`` or ``score_best``)."""
        if name not in REQUIRED_SCORE_KEYS:
            raise KeyError(f"unknown metric {name!r}; expected one of {REQUIRED_SCORE_KEYS}")
        return float(getattr(self, name))


def find_results(roots: Iterable[str | Path]) -> list[Path]:
    """Every ``results.json`` below ``roots`` (recursively), sorted and without duplicates.

    A root may also be a ``results.json`` or a ``.jsonl`` file itself. A root that does not exist, or a file that
    is neither, raises ResultsError.
    """
    found: dict[Path, Path] = {}
    for root in map(Path, roots):
        if not root.exists():
            raise ResultsError(f"{root} does not exist")
        if root.is_file() and root.name != RESULTS_FILE and root.suffix != JSONL_SUFFIX:
            raise ResultsError(
                f"{root} is not a {RESULTS_FILE} or a {JSONL_SUFFIX} file (one run's results per line), "
                "nor a directory of results"
            )
        candidates = [root] if root.is_file() else root.rglob(RESULTS_FILE)
        for file in candidates:
            if file.is_file():
                found.setdefault(file.resolve(), file)
    return sorted(found.values(), key=str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if _is_number(value) else None


def _parse_curve(value: Any) -> Curve:
    if not isinstance(value, dict):
        raise ValueError("'curve' is not an object")
    step, score = value.get("step"), value.get("score")
    if not isinstance(step, list) or not isinstance(score, list) or len(step) != len(score):
        raise ValueError("'curve' needs lists 'step' and 'score' of equal length")
    if not all(_is_number(v) for v in step) or not all(_is_number(v) for v in score):
        raise ValueError("'curve' has non-numeric entries")
    return Curve(tuple(float(v) for v in step), tuple(float(v) for v in score))


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{file}: cannot read ({exc})") from exc


def load_record(file: str | Path, warn: Warn = warn_stderr) -> RunRecord:
    """Read one results.json; ResultsError when it is unusable (a malformed ``curve`` is only warned)."""
    file = Path(file)
    return parse_record(_read_text(file), file, warn, config_file=file.with_name(CONFIG_FILE))


def load_jsonl(file: str | Path, warn: Warn = warn_stderr) -> list[RunRecord | ResultsError]:
    """The runs of a JSONL file, one per non-empty line (source ``FILE:LINE``, no config.yaml); an unusable line
    is its ResultsError. ResultsError when the file cannot be read."""
    file = Path(file)
    runs: list[RunRecord | ResultsError] = []
    for number, line in enumerate(_read_text(file).split("\n"), start=1):
        if line.strip():
            try:
                runs.append(parse_record(line, Path(f"{file}:{number}"), warn))
            except ResultsError as exc:
                runs.append(exc)
    return runs


def parse_record(text: str, source: Path, warn: Warn = warn_stderr, config_file: Path | None = None) -> RunRecord:
    """One run from the JSON ``text`` of its results.json (``source`` names it in messages); ResultsError when it
    is unusable. ``config_file``: its config.yaml, read once the results are known to be usable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}" if "\n" in text.strip() else f"column {exc.colno}"  # a JSONL line: its column
        raise ResultsError(f"{source}: not valid JSON ({exc.msg}, {at})") from exc
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: not a JSON object")
    for key in REQUIRED_STR_KEYS:
        if not isinstance(data.get(key), str) or not data[key]:
            raise ResultsError(f"{source}: missing or non-string key {key!r}")
    for key in REQUIRED_SCORE_KEYS:
        if not _is_number(data.get(key)):
            raise ResultsError(f"{source}: missing or non-numeric key {key!r}")
        if not math.isfinite(data[key]):
            warn(f"{source}: {key} is {data[key]}; it is kept, so its cells read nan")
    curve = None
    if data.get("curve") is not None:
        try:
            curve = _parse_curve(data["curve"])
        except ValueError as exc:
            warn(f"ignoring the curve of {source}: {exc}")
    seed = data.get("seed")
    eval_env = data.get("eval_env")
    config = load_config(config_file, warn) if config_file is not None else None
    return RunRecord(
        source=source,
        env=data["env"],
        algorithm=data["algorithm"].lower(),
        path=data["path"].lower(),
        score_final=float(data["score_final"]),
        score_best=float(data["score_best"]),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        eval_env=eval_env if isinstance(eval_env, str) and eval_env else None,
        dataset_score=_optional_number(data, "dataset_score"),
        curve=curve,
        raw=data,
        config=config,
    )


def load_config(file: Path, warn: Warn = warn_stderr) -> dict[str, Any] | None:
    """The resolved config a run wrote beside its results.json; None when absent (warned when unreadable)."""
    if not file.is_file():
        return None
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        warn(f"ignoring {file}: cannot read it ({exc.__class__.__name__})")
        return None
    if not isinstance(config, dict):
        warn(f"ignoring {file}: not a mapping")
        return None
    return config


def load_runs(roots: Iterable[str | Path], warn: Warn = warn_stderr) -> list[RunRecord]:
    """Load every usable results.json below ``roots`` (and JSONL line); each unusable one is warned about and
    skipped."""
    return load_files(find_results(roots), warn)


def load_files(files: Iterable[str | Path], warn: Warn = warn_stderr) -> list[RunRecord]:
    """Load the given results.json and JSONL files, warning about (and skipping) each unusable run.

    Records are ordered by (env, algorithm, path, seed, file), so aggregates do not depend on the walk order.
    """
    return read_files(files, warn)[0]


def read_files(files: Iterable[str | Path], warn: Warn = warn_stderr) -> tuple[list[RunRecord], int]:
    """:func:`load_files`, and how many runs it skipped (unusable results.json files and JSONL lines)."""
    records, skipped = [], 0
    for file in map(Path, files):
        try:
            runs = load_jsonl(file, warn) if file.suffix == JSONL_SUFFIX else [load_record(file, warn)]
        except ResultsError as exc:
            runs = [exc]
        for run in runs:
            if isinstance(run, ResultsError):
                warn(f"skipping {run}")
                skipped += 1
            else:
                records.append(run)
    return sorted(records, key=record_order), skipped


def record_order(record: RunRecord) -> tuple[Any, ...]:
    """Sort key: (env, algorithm, path), then seed (runs without one last), then file."""
    seed = (0, record.seed) if record.seed is not None else (1, 0)
    return (*record.key, seed, str(record.source))


def group_runs(records: Sequence[RunRecord]) -> dict[GroupKey, list[RunRecord]]:
    """Records by (env, algorithm, path), each group in :func:`record_order`."""
    groups: dict[GroupKey, list[RunRecord]] = defaultdict(list)
    for record in sorted(records, key=record_order):
        groups[record.key].append(record)
    return dict(groups)
