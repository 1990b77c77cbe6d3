"""Honest statistics with ``rliable`` (Agarwal et al., NeurIPS 2021): IQM, optimality gap, probability of
improvement, stratified-bootstrap 95% confidence intervals, and performance profiles (rendered by
genrl.reporting.render and genrl.reporting.curves).

Conventions (stated in every footnote):

* per task and column: the interquartile mean (IQM, the 25% trimmed mean) of the seeds' scores, with a
  percentile bootstrap CI over the seeds (none with a single seed);
* aggregate per column: IQM over all runs of all tasks and the optimality gap γ − mean(min(score, γ)) with
  γ = 100 (the expert reference), CIs from rliable's stratified bootstrap (runs resampled within each task).
  rliable needs a runs × tasks matrix, so a column has aggregates only when it covers every task of the table
  with the same number of runs on each;
* P(X > Y): rliable's probability of improvement — per task the Mann-Whitney probability that a run of X
  scores above a run of Y (ties count ½), averaged over the tasks both cover — with a stratified
  bootstrap CI (each method's runs resampled independently within each task).

rliable's bootstrap draws from numpy's global random state; every interval here is computed with it seeded to
``seed`` immediately before (and restored after), so the numbers are reproducible and independent of the order
in which they are computed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genrl.reporting.configs import Column, column_label

GAMMA = 100.0  # optimality-gap threshold: the expert reference on the 0–100 normalized scale
CONFIDENCE = 0.95
DEFAULT_REPS = 2000


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% bootstrap CI (NaN bounds when undefined), from ``n`` runs."""

    value: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


@dataclass(frozen=True)
class Comparison:
    """P(X > Y) over the ``tasks`` both columns cover; ``reason`` says why it could not be computed."""

    x: Column
    y: Column
    estimate: Estimate | None
    tasks: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class StatsTable:
    """rliable's statistics of one metric over the same tasks and columns as the mean ± std table."""

    metric: str
    tasks: tuple[str, ...]
    columns: tuple[Column, ...]
    iqm: dict[tuple[str, Column], Estimate]  # per task
    aggregate_iqm: dict[Column, Estimate | None]
    optimality_gap: dict[Column, Estimate | None]
    missing_reason: dict[Column, str]  # why a column has no aggregates
    comparisons: tuple[Comparison, ...]
    reps: int
    seed: int


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """rliable's StratifiedBootstrap samples with ``np.random.choice``: seed it, then restore the global state."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _library():
    from rliable import library, metrics  # optional: only --stats needs it; it pulls arch, scipy and seaborn

    return library, metrics


def interval(
    scores: np.ndarray | Sequence[np.ndarray], func: Callable[..., np.ndarray], reps: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(point estimates, 2 × k CI bounds) of ``func`` by rliable's stratified bootstrap, percentile method."""
    library, _ = _library()
    with seeded_global_rng(seed):
        points, intervals = library.get_interval_estimates(
            {"x": scores}, func, method="percentile", reps=reps, confidence_interval_size=CONFIDENCE
        )
    return np.atleast_1d(np.asarray(points["x"], dtype=np.float64)), np.asarray(intervals["x"], dtype=np.float64)


def task_iqm(values: Sequence[float], reps: int, seed: int) -> Estimate:
    """IQM of one task's runs with a bootstrap CI over the runs (no CI for a single run)."""
    _, metrics = _library()
    scores = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    if len(scores) < 2:
        return Estimate(float(metrics.aggregate_iqm(scores)), math.nan, math.nan, len(scores))
    points, bounds = interval(scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps, seed)
    return Estimate(float(points[0]), float(bounds[0, 0]), float(bounds[1, 0]), len(scores))


def aggregates(matrix: np.ndarray, reps: int, seed: int) -> tuple[Estimate, Estimate]:
    """(IQM, optimality gap at γ = 100) of a runs × tasks matrix, stratified-bootstrap CIs from one resampling."""
    _, metrics = _library()

    def func(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_optimality_gap(x, GAMMA)])

    points, bounds = interval(matrix, func, reps, seed)
    n = matrix.size
    return (
        Estimate(float(points[0]), float(bounds[0, 0]), float(bounds[1, 0]), n),
        Estimate(float(points[1]), float(bounds[0, 1]), float(bounds[1, 1]), n),
    )


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int, seed: int) -> Estimate:
    """P(X > Y) of two runs × tasks matrices (same tasks, any run counts) with a stratified bootstrap CI."""
    _, metrics = _library()

    def func(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([metrics.probability_of_improvement(a, b)])

    points, bounds = interval([x, y], func, reps, seed)
    return Estimate(float(points[0]), float(bounds[0, 0]), float(bounds[1, 0]), x.shape[1])


def score_matrix(
    values: dict[tuple[str, Column], list[float]], column: Column, tasks: Sequence[str]
) -> tuple[np.ndarray | None, str]:
    """The runs × tasks matrix of ``column`` over ``tasks`` (None and the reason when rliable cannot use it)."""
    missing = [t for t in tasks if not values.get((t, column))]
    if missing:
        return None, f"no runs on {', '.join(missing)}"
    counts = [len(values[(t, column)]) for t in tasks]
    if len(set(counts)) > 1:
        per_task = ", ".join(f"{t}: {c}" for t, c in zip(tasks, counts))
        return None, f"different numbers of runs per task ({per_task})"
    return np.array([values[(t, column)] for t in tasks], dtype=np.float64).T, ""


def resolve_column(spec: str, columns: Sequence[Column]) -> Column:
    """The column a ``--compare`` side names: its label (``GMPO-GVP``, ``IQL``, ``GMPO-GVP [algorithm.beta=3.0]``,
    any case) or an algorithm alone (``bc``) when that algorithm has one column."""
    wanted = spec.strip().lower()
    exact = [c for c in columns if column_label(c).lower() == wanted]
    if exact:
        return exact[0]
    by_base = [c for c in columns if column_label(c[:2]).lower() == wanted or c[0] == wanted]
    if len(by_base) == 1:
        return by_base[0]
    available = ", ".join(column_label(c) for c in columns) or "none"
    if by_base:
        matches = ", ".join(map(column_label, by_base))
        raise ValueError(f"--compare: {spec!r} matches {len(by_base)} columns ({matches}); name one by its label")
    raise ValueError(f"--compare: no column {spec!r} (columns: {available})")


def parse_comparisons(specs: Sequence[str], columns: Sequence[Column]) -> list[tuple[Column, Column]]:
    """``["gmpo-gvp:bc", ...]`` → pairs of columns (ValueError with one line when a spec is wrong)."""
    pairs = []
    for spec in specs:
        if spec.count(":") != 1:
            raise ValueError(f"--compare expects X:Y (e.g. gmpo-gvp:bc), got {spec!r}")
        x, y = spec.split(":")
        pairs.append((resolve_column(x, columns), resolve_column(y, columns)))
    return pairs


def build_stats(
    values: dict[tuple[str, Column], list[float]],
    metric: str,
    tasks: Sequence[str],
    columns: Sequence[Column],
    comparisons: Sequence[tuple[Column, Column]] = (),
    reps: int = DEFAULT_REPS,
    seed: int = 0,
) -> StatsTable:
    """rliable's statistics of ``values`` ((task, column) → the runs' scores of ``metric``)."""
    iqm = {
        (task, column): task_iqm(values[(task, column)], reps, seed)
        for task in tasks
        for column in columns
        if values.get((task, column))
    }
    aggregate_iqm: dict[Column, Estimate | None] = {}
    gap: dict[Column, Estimate | None] = {}
    reasons: dict[Column, str] = {}
    for column in columns:
        matrix, reason = score_matrix(values, column, tasks)
        if matrix is None:
            aggregate_iqm[column] = gap[column] = None
            reasons[column] = reason
            continue
        aggregate_iqm[column], gap[column] = aggregates(matrix, reps, seed)
    results = []
    for x, y in comparisons:
        common = tuple(t for t in tasks if values.get((t, x)) and values.get((t, y)))
        if not common:
            results.append(Comparison(x, y, None, (), "no task has runs of both"))
            continue
        mx, why_x = score_matrix(values, x, common)
        my, why_y = score_matrix(values, y, common)
        if mx is None or my is None:
            side, why = (x, why_x) if mx is None else (y, why_y)
            results.append(Comparison(x, y, None, common, f"{column_label(side)}: {why}"))
            continue
        results.append(Comparison(x, y, probability_of_improvement(mx, my, reps, seed), common))
    return StatsTable(
        metric, tuple(tasks), tuple(columns), iqm, aggregate_iqm, gap, reasons, tuple(results), reps, seed
    )


def performance_profile(
    matrices: dict[str, np.ndarray], reps: int, seed: int, points: int = 101
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(τ grid, profiles, 2 × len(τ) CIs): the fraction of runs (all tasks) with score > τ (rliable)."""
    library, _ = _library()
    top = max(GAMMA, max(float(np.max(m)) for m in matrices.values()))
    taus = np.linspace(0.0, top, points)
    with seeded_global_rng(seed):
        profiles, cis = library.create_performance_profile(matrices, taus, reps=reps)
    return taus, profiles, cis
