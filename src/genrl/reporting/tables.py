"""Aggregate runs into a task × column table of ``mean ± std`` (rendered by genrl.reporting.render).

* a cell is the mean and the sample standard deviation (ddof=1) of one metric over the seeds of that
  (env, algorithm, path) — only over runs whose configuration is identical apart from the seed: runs that
  differ in anything else are separate columns labelled by what differs (genrl.reporting.configs);
  the std is undefined (NaN) when there is a single seed;
* the Average row is the mean over tasks of the cell means, and its ± is the mean over tasks of the per-task
  stds, as in the published GenerativeRL table (spec §9). It is only given when every task has that column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from genrl.reporting.configs import Cells, Column, column_sort_key, group_cells
from genrl.reporting.results import RunRecord

METRICS: dict[str, str] = {
    "score_final": "last evaluation of the policy",
    "score_best": "best evaluation during policy training",
}


@dataclass(frozen=True)
class Cell:
    """Mean and sample std (ddof=1, NaN when ``n == 1``) of ``n`` values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Cell:
        """Aggregate a non-empty sequence of values."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            raise ValueError("a cell needs at least one value")
        std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
        return cls(float(np.mean(arr)), std, int(arr.size))


@dataclass(frozen=True)
class Table:
    """One metric's table. ``average[col]`` is None when some task lacks that column."""

    metric: str
    tasks: tuple[str, ...]
    columns: tuple[Column, ...]
    cells: dict[tuple[str, Column], Cell]
    average: dict[Column, Cell | None]
    dataset: dict[str, Cell]
    dataset_average: float | None
    eval_envs: tuple[str, ...]
    eval_episodes: tuple[int, ...]
    budgets: tuple[str, ...]
    n_runs: int
    n_skipped: int = 0
    final_episodes: tuple[int, ...] = ()  # episodes of the final evaluation (score_final), when recorded
    varying: dict[tuple[str, str], tuple[str, ...]] | None = None  # (algorithm, path) → keys that split columns
    without_config: int = 0  # runs compared on results.json fields only (no config.yaml beside them)
    not_comparable: int = 0  # runs scored on capped episodes: their columns are labelled [not comparable, …]
    d4rl_scored: bool = True  # every run's scores use D4RL's reference returns

    def missing_tasks(self, column: Column) -> list[str]:
        """Tasks without runs for ``column``."""
        return [task for task in self.tasks if (task, column) not in self.cells]


def _distinct(values: Iterable[object]) -> tuple:
    return tuple(sorted({v for v in values if v is not None}, key=str))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def build_table(records: Sequence[RunRecord], metric: str, n_skipped: int = 0, cells: Cells | None = None) -> Table:
    """Aggregate ``records`` for ``metric`` (``score_final`` or ``score_best``); tasks sorted by name.

    ``cells`` is the grouping of the runs into configurations (default: :func:`group_cells` with ``split``).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {list(METRICS)}")
    grouping = cells if cells is not None else group_cells(records)
    tasks = tuple(sorted({key[0] for key in grouping.runs}))
    columns = tuple(sorted({key[1:] for key in grouping.runs}, key=column_sort_key))
    means = {(key[0], key[1:]): Cell.of([run.metric(metric) for run in runs]) for key, runs in grouping.runs.items()}
    average: dict[Column, Cell | None] = {}
    for column in columns:
        present = [means[(task, column)] for task in tasks if (task, column) in means]
        average[column] = None
        if len(present) == len(tasks):
            average[column] = Cell(
                mean=float(np.mean([cell.mean for cell in present])),
                std=float(np.mean([cell.std for cell in present])),  # NaN as soon as one task has n == 1
                n=len(present),
            )
    dataset = {}
    for task in tasks:
        runs = [r for r in records if r.env == task and r.dataset_score is not None]
        scores = [r.dataset_score for r in runs]
        if scores and len({_data(r) for r in runs}) == 1:  # never one cell for two datasets under one task name
            dataset[task] = Cell.of(scores)
    covered = dataset and len(dataset) == len(tasks)
    return Table(
        metric=metric,
        tasks=tasks,
        columns=columns,
        cells=means,
        average=average,
        dataset=dataset,
        dataset_average=float(np.mean([dataset[t].mean for t in tasks])) if covered else None,
        eval_envs=_distinct(r.eval_env for r in records),
        eval_episodes=_distinct(r.raw.get("eval_episodes") for r in records if _is_int(r.raw.get("eval_episodes"))),
        budgets=_distinct(r.raw.get("budget") for r in records if isinstance(r.raw.get("budget"), str)),
        n_runs=len(records),
        n_skipped=n_skipped,
        final_episodes=_distinct(r.raw.get("final_episodes") for r in records if _is_int(r.raw.get("final_episodes"))),
        varying=grouping.varying,
        without_config=grouping.without_config,
        not_comparable=grouping.not_comparable,
        d4rl_scored=all(r.d4rl_scored for r in records),
    )


#: results.json's inference-cost fields (genrl.acting.cost) and the training wall time, as the cost table shows them.
COST_FIELDS: dict[str, str] = {
    "calls_per_action": "calls/action",
    "act_ms_batch1": "ms/action (batch 1)",
    "actions_per_s_batch1024": "actions/s (batch 1024)",
    "wall_time_s": "training (min)",
}


@dataclass(frozen=True)
class CostRow:
    """One column's score (the Average row's mean of ``score_final``, None when a task lacks it) beside the medians
    over its runs of what its actions cost and how long it trained; ``devices`` the runs' devices."""

    column: Column
    score: float | None
    cost: dict[str, float | None]
    devices: tuple[str, ...]
    n: int


def build_cost_rows(records: Sequence[RunRecord], table: Table, cells: Cells | None = None) -> list[CostRow]:
    """A row per column of ``table`` whose runs recorded inference cost; [] when none did (runs from before)."""
    grouping = cells if cells is not None else group_cells(records)
    rows = []
    for column in table.columns:
        runs = [run for key, group in grouping.runs.items() if key[1:] == column for run in group]
        if not any(_is_number(run.raw.get("calls_per_action")) for run in runs):
            continue
        cost = {}
        for name in COST_FIELDS:
            values = [float(run.raw[name]) for run in runs if _is_number(run.raw.get(name))]
            cost[name] = float(np.median(values)) if values else None
        if cost["wall_time_s"] is not None:
            cost["wall_time_s"] /= 60.0
        average = table.average.get(column)
        devices = _distinct(run.raw.get("device") for run in runs if isinstance(run.raw.get("device"), str))
        rows.append(CostRow(column, None if average is None else average.mean, cost, devices, len(runs)))
    return rows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _data(record: RunRecord) -> str | None:
    """The data a run read (results.json's ``dataset_fingerprint``), None when not recorded."""
    fingerprint = record.raw.get("dataset_fingerprint")
    return str(fingerprint.get("sha256")) if isinstance(fingerprint, dict) else None
