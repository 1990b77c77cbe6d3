"""No mixed cells: a cell averages only runs whose configuration is identical apart from the seed.

Runs of one (env, algorithm, path) are compared key by key on the resolved ``config.yaml`` beside each
results.json. Keys that never change a run's result are left out: the seed and what a run may change when it
resumes (``IGNORED_KEYS``, the same as train.py's run-folder names leave out), and the keys a run lists as
``unused_config`` in its results.json (``path``, ``net``, … for IQL, whose policy is not generative). Where
a group's runs lack ``config.yaml`` (older runs, results copied alone, the lines of a JSONL file) the results.json
fields that describe the protocol (``RESULT_KEYS``) are compared instead, and the ``ablation`` that
``scripts/bench_quality.py`` adds to its rows (absent = ``none``, the recipe itself): an ablation is never
averaged with the recipe's runs.

Runs that differ in anything else get separate columns, labelled by what differs —
``GMPO-GVP [algorithm.beta=3.0]`` — (``mixed="split"``), or the report refuses with one line naming the key
(``mixed="refuse"``). Runs without config.yaml next to runs with one (same task and column) cannot be checked
against them: they get their own column, ``[no config.yaml]``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from genrl.reporting.results import ResultsError, RunRecord, Warn, group_runs, record_order
from genrl.run_folder import NO_PATH, RESUMABLE_KEYS  # NO_PATH: its column is just "IQL"

#: Never part of a configuration's identity: the seed and what a resumed run may change.
IGNORED_KEYS = ("seed", *RESUMABLE_KEYS)
#: What results.json records about the protocol, compared when a run has no config.yaml.
RESULT_KEYS = (
    "budget", "recipe", "critic", "sampling", "normalize_observations", "ema_decay", "eval_episodes",
    "final_episodes", "steps", "phase_steps", "dataset_transitions",
)  # fmt: skip
#: bench_quality's name of what a run changed from the recipe, compared with RESULT_KEYS; absent = ``NO_ABLATION``.
ABLATION_KEY = "ablation"
NO_ABLATION = "none"
MIXED = ("split", "refuse")
ABSENT = "<absent>"
NO_CONFIG = "no config.yaml"  # the label of runs without config.yaml beside runs with one
NOT_COMPARABLE = "not comparable"  # the label of runs whose scores are of capped episodes (score_comparable false)
UNNORMALISED = "raw return"  # the label of runs without reference returns (score_normalized false)
#: results.json's fingerprint of the data a run read: two datasets under one task name never share a cell.
DATASET_KEY = "dataset.sha256"

ALGORITHM_ORDER = ("gmpo", "gmpg", "bc", "iql")
PATH_ORDER = ("vpsde", "gvp", "icfm", "none")

CellKey = tuple[str, str, str, str]  # (env, algorithm, path, variant label; "" when the runs agree)
Column = tuple[str, ...]  # (algorithm, path) or (algorithm, path, variant), lower-case; variant "" = the only one


@dataclass(frozen=True)
class Cells:
    """Runs per cell, and what the grouping found out (for the tables' footnotes)."""

    runs: dict[CellKey, list[RunRecord]]
    varying: dict[tuple[str, str], tuple[str, ...]]  # (algorithm, path) → keys that split its runs
    without_config: int  # runs compared on their results.json fields only
    not_comparable: int = 0  # runs whose scores are of capped episodes (their cells are labelled so)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; lists become tuples (hashable, comparable)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, list):
        return {prefix: tuple(tree)}
    return {prefix: tree}


def _under(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def identity(record: RunRecord, use_config: bool = True) -> dict[str, Any]:
    """The keys that make a run's configuration: its config.yaml (or results.json's protocol fields and
    ablation), flattened, without the seed-like keys and the run's own ``unused_config``."""
    if use_config and record.config is not None:
        flat = flatten(record.config)
    else:
        flat = flatten({key: record.raw[key] for key in RESULT_KEYS if key in record.raw})
        flat[ABLATION_KEY] = str(record.raw.get(ABLATION_KEY) or NO_ABLATION)
    unused = record.raw.get("unused_config")
    unused = [str(k) for k in unused] if isinstance(unused, list) else []
    fingerprint = record.raw.get("dataset_fingerprint")
    if isinstance(fingerprint, dict) and fingerprint.get("sha256"):  # the data itself, not only its file's name
        flat[DATASET_KEY] = str(fingerprint["sha256"])[:12]
    return {k: v for k, v in flat.items() if not _under(k, IGNORED_KEYS) and not _under(k, unused)}


def differing_keys(views: Sequence[dict[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every view (a key missing from a view counts as a value)."""
    keys = sorted(set().union(*views)) if views else []
    return [k for k in keys if len({repr(v.get(k, ABSENT)) for v in views}) > 1]


def _value_text(value: Any, short: bool) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if short and isinstance(value, str) and "/" in value:
        return PurePath(value).name or value  # a dataset file: its name
    return str(value)


def _natural(text: str) -> tuple:
    """Sort key where numbers compare as numbers: beta=3.0 before beta=10.0."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)", text)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def column_label(column: Column) -> str:
    """``("gmpo", "gvp")`` → ``"GMPO-GVP"``; ``("iql", "none")`` → ``"IQL"``;
    ``("gmpo", "gvp", "algorithm.beta=3.0")`` → ``"GMPO-GVP [algorithm.beta=3.0]"``."""
    base = column[0].upper() if column[1] == NO_PATH else f"{column[0]}-{column[1]}".upper()
    variant = column[2] if len(column) > 2 else ""
    return f"{base} [{variant}]" if variant else base


def _rank(name: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(name), "") if name in order else (len(order), name)


def column_sort_key(column: Column) -> tuple:
    """gmpo, gmpg, bc, iql, then vpsde, gvp, icfm; unknown names after the known ones, alphabetically; variants
    of one (algorithm, path) in natural order of their labels."""
    variant = column[2] if len(column) > 2 else ""
    return (_rank(column[0], ALGORITHM_ORDER), _rank(column[1], PATH_ORDER), _natural(variant))


def group_cells(records: Sequence[RunRecord], mixed: str = "split", warn: Warn | None = None) -> Cells:
    """Group runs into cells of identical configurations (see the module doc); ``warn`` about repeated seeds.

    Runs with a config.yaml are compared on it, runs without on their results.json fields; where one task's
    runs of a column mix the two, those without are a separate cell labelled ``no config.yaml``.
    ``mixed="refuse"`` raises ResultsError naming the first differing key instead of splitting.
    """
    if mixed not in MIXED:
        raise ValueError(f"mixed must be one of {MIXED}, got {mixed!r}")
    groups = group_runs(records)
    views = {str(r.source): identity(r, use_config=True) for r in records}
    varying: dict[tuple[tuple[str, str], bool], set[str]] = defaultdict(set)  # (column, has config) → keys
    mixed_kinds: set[tuple[str, str]] = set()  # columns where some task has runs with and without config.yaml
    for (env, algorithm, path), runs in groups.items():
        column = (algorithm, path)
        if mixed == "refuse" and len({r.comparable for r in runs}) > 1:
            capped = next(r for r in runs if not r.comparable)
            raise ResultsError(
                f"{env} {column_label(column)}: {capped.source} is {capped.raw.get('score_note') or NOT_COMPARABLE}, "
                "beside full-length runs; a cell never mixes them (--mixed split labels them apart)"
            )
        by_kind = {kind: [r for r in runs if (r.config is not None) == kind] for kind in (True, False)}
        if by_kind[True] and by_kind[False]:
            mixed_kinds.add(column)
            if mixed == "refuse":
                raise ResultsError(
                    f"{env} {column_label(column)}: runs differ at config.yaml (present vs absent); a cell averages "
                    "only runs identical apart from the seed (--mixed split labels them apart)"
                )
        for kind, kind_runs in by_kind.items():
            kind_views = [views[str(r.source)] for r in kind_runs]
            keys = differing_keys(kind_views)
            if keys and mixed == "refuse":
                values = sorted({_value_text(v.get(keys[0], ABSENT), short=False) for v in kind_views}, key=_natural)
                more = f" (and {len(keys) - 1} more key{'s' if len(keys) > 2 else ''})" if len(keys) > 1 else ""
                raise ResultsError(
                    f"{env} {column_label(column)}: runs differ at {keys[0]} ({' vs '.join(values)}){more}; "
                    "a cell averages only runs identical apart from the seed (--mixed split labels them apart)"
                )
            varying[(column, kind)].update(keys)
    labels = _labels(records, views, varying, mixed_kinds)
    cells: dict[CellKey, list[RunRecord]] = defaultdict(list)
    for (env, algorithm, path), runs in groups.items():
        for run in runs:
            cells[(env, algorithm, path, labels[str(run.source)])].append(run)
    cells = {key: sorted(runs, key=record_order) for key, runs in cells.items()}
    if warn is not None:
        for key, runs in cells.items():
            by_seed: dict[int, list[str]] = defaultdict(list)
            for run in runs:
                if run.seed is not None:
                    by_seed[run.seed].append(str(run.source))
            for seed, files in by_seed.items():
                if len(files) > 1:
                    name = "/".join(key[:3]) + (f" [{key[3]}]" if key[3] else "")
                    warn(f"{name} has {len(files)} runs with seed={seed} ({', '.join(files)})")
    split: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (column, _), keys in varying.items():
        split[column].update(keys)
    for column in mixed_kinds:
        split[column].add(NO_CONFIG)
    without_config = sum(r.config is None for r in records)
    not_comparable = sum(not r.comparable for r in records)
    return Cells(cells, {k: tuple(sorted(v)) for k, v in split.items() if v}, without_config, not_comparable)


def _labels(
    records: Sequence[RunRecord],
    views: dict[str, dict[str, Any]],
    varying: dict[tuple[tuple[str, str], bool], set[str]],
    mixed_kinds: set[tuple[str, str]],
) -> dict[str, str]:
    """Source file → variant label: ``key=value, …`` over the keys that vary for its (algorithm, path) and kind
    (with or without config.yaml), the same label on every task."""
    by_column: dict[tuple[tuple[str, str], bool], list[RunRecord]] = defaultdict(list)
    for record in records:
        by_column[((record.algorithm, record.path), record.config is not None)].append(record)
    labels: dict[str, str] = {}
    for (column, kind), runs in by_column.items():
        keys = sorted(varying.get((column, kind), ()))
        prefix = [NO_CONFIG] if column in mixed_kinds and not kind else []
        sources = [str(r.source) for r in runs]
        marks = {str(r.source): _marks(r) for r in runs}  # never in one cell
        full = {s: _label(views[s], keys, [*marks[s], *prefix], short=False) for s in sources}
        short = {s: _label(views[s], keys, [*marks[s], *prefix], short=True) for s in sources}
        # file names alone, unless two different files share a name
        labels.update(short if len(set(short.values())) == len(set(full.values())) else full)
    return labels


def _marks(record: RunRecord) -> list[str]:
    if record.raw.get("score_normalized") is False:
        return [UNNORMALISED]
    return [] if record.comparable else [NOT_COMPARABLE]


def _label(view: dict[str, Any], keys: Sequence[str], prefix: Sequence[str], short: bool) -> str:
    return ", ".join([*prefix, *(f"{k}={_value_text(view.get(k, ABSENT), short)}" for k in keys)])
