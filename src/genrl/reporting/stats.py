"""Honest statistics with ``rliable`` (Agarwal et al., NeurIPS 2021): IQM, optimality gap, probability of
improvement, stratified-bootstrap 95% confidence intervals, and performance profiles.

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
import csv
import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from genrl.reporting.curves import column_colors, save_atomic
from genrl.reporting.results import Warn, warn_stderr
from genrl.reporting.tables import AVERAGE, MISSING, NO_STD, Column, Table, column_label, latex_escape

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
    from rliable import library, metrics  # imported on demand: rliable pulls arch, scipy and seaborn

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


# ---------------------------------------------------------------------------------------------------------
# Rendering (the same conventions as genrl.reporting.tables)


def format_estimate(estimate: Estimate | None, decimals: int, with_n: bool = False) -> str:
    """``"71.3 [65.0, 75.3] (n=5)"``; ``"71.3 [–] (n=1)"`` without a CI; ``"—"`` when there is none."""
    if estimate is None:
        return MISSING
    ci = (
        f"[{estimate.low:.{decimals}f}, {estimate.high:.{decimals}f}]" if estimate.has_interval else f"[{NO_STD}]"
    )
    text = f"{estimate.value:.{decimals}f} {ci}"
    return f"{text} (n={estimate.n})" if with_n else text


IQM_ROW = "IQM (all tasks)"
GAP_ROW = f"Optimality gap (γ={GAMMA:g})"
ALL_TASKS = "All tasks"


def stats_title(stats: StatsTable) -> str:
    return f"{stats.metric}: IQM and optimality gap with 95% bootstrap CIs (rliable)"


def stats_notes(stats: StatsTable) -> list[str]:
    lines = [
        "IQM = interquartile mean (25% trimmed mean) of the seeds' scores; [lo, hi] = 95% percentile bootstrap CI "
        f"over the seeds, {NO_STD} when n=1 (rliable, {stats.reps} resamples, numpy seed {stats.seed}).",
        f"{IQM_ROW}: IQM over all runs of all tasks; {GAP_ROW}: γ − mean(min(score, γ)), lower is better; their CIs "
        "come from rliable's stratified bootstrap (runs resampled within each task).",
    ]
    for column, reason in stats.missing_reason.items():
        lines.append(
            f"{column_label(column)} has no aggregate: {reason} (rliable's aggregates need runs on every task, the "
            "same number on each)."
        )
    return lines


def comparison_notes(stats: StatsTable) -> list[str]:
    lines = [
        "P(X > Y) = rliable's probability of improvement: per task the probability that a run of X scores above a "
        "run of Y (Mann-Whitney U / (n·m), ties ½), averaged over the tasks both cover; 95% CI from a stratified "
        "bootstrap resampling each method's runs within each task. Above 0.5 favours X; a CI that excludes 0.5 "
        "is a difference the seeds support."
    ]
    for c in stats.comparisons:
        if c.estimate is None:
            lines.append(f"{column_label(c.x)} vs {column_label(c.y)}: not computed ({c.reason}).")
    return lines


def _stats_rows(stats: StatsTable, decimals: int) -> tuple[list[str], list[list[str]]]:
    header = ["Task", *map(column_label, stats.columns)]
    rows = [
        [task, *(format_estimate(stats.iqm.get((task, c)), decimals, with_n=True) for c in stats.columns)]
        for task in stats.tasks
    ]
    rows.append([IQM_ROW, *(format_estimate(stats.aggregate_iqm.get(c), decimals) for c in stats.columns)])
    rows.append([GAP_ROW, *(format_estimate(stats.optimality_gap.get(c), decimals) for c in stats.columns)])
    return header, rows


def _comparison_rows(stats: StatsTable) -> tuple[list[str], list[list[str]]]:
    header = ["X", "Y", "P(X > Y) [95% CI]", "tasks"]
    rows = [
        [column_label(c.x), column_label(c.y), format_estimate(c.estimate, 2), str(len(c.tasks))]
        for c in stats.comparisons
    ]
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]], bold_from: int | None = None) -> list[str]:
    rows = [[f"**{r[0]}**" if bold_from is not None and i >= bold_from else r[0], *r[1:]] for i, r in enumerate(rows)]
    cells = [[c.replace("|", "\\|") for c in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:]))]) + " |"

    rule = "|" + "|".join([":" + "-" * (widths[0] + 1), *("-" * (w + 1) + ":" for w in widths[1:])]) + "|"
    return [line(cells[0]), rule, *map(line, cells[1:])]


def render_stats_markdown(stats: StatsTable, decimals: int = 1) -> str:
    header, rows = _stats_rows(stats, decimals)
    out = [f"**{stats_title(stats)}**", "", *_markdown_table(header, rows, bold_from=len(stats.tasks)), ""]
    out += [f"- {note}" for note in stats_notes(stats)]
    if stats.comparisons:
        header, rows = _comparison_rows(stats)
        out += ["", f"**{stats.metric}: probability of improvement (rliable)**", "", *_markdown_table(header, rows), ""]
        out += [f"- {note}" for note in comparison_notes(stats)]
    return "\n".join(out) + "\n"


def _latex_tabular(header: list[str], rows: list[list[str]], rule_before: int | None = None) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return " & ".join(map(latex_escape, cells)) + r" \\"

    body = [line(r) for r in rows]
    if rule_before is not None:
        body.insert(rule_before, r"\midrule")
    return [
        r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}", r"\toprule", line(header), r"\midrule",
        *body, r"\bottomrule", r"\end{tabular}",
    ]  # fmt: skip


def _latex_notes(notes: list[str]) -> list[str]:
    return [r"\par\smallskip", r"{\footnotesize\noindent", " \\\\\n".join(map(latex_escape, notes)) + r"\par}"]


def render_stats_latex(stats: StatsTable, decimals: int = 1) -> str:
    header, rows = _stats_rows(stats, decimals)
    out = [f"% genrl-report: {latex_escape(stats_title(stats))}"]
    out += _latex_tabular(header, rows, rule_before=len(stats.tasks)) + _latex_notes(stats_notes(stats))
    if stats.comparisons:
        header, rows = _comparison_rows(stats)
        out += [f"% genrl-report: {latex_escape(stats.metric)}: probability of improvement (rliable)"]
        out += _latex_tabular(header, rows) + _latex_notes(comparison_notes(stats))
    return "\n".join(out) + "\n"


STATS_CSV_HEADER = ("metric", "task", "column", "statistic", "estimate", "ci_low", "ci_high", "n")


def render_stats_csv(tables: Sequence[Table], stats: Sequence[StatsTable]) -> str:
    """Long format, full precision: ``metric,task,column,statistic,estimate,ci_low,ci_high,n``.

    ``statistic`` is ``mean`` and ``std`` (the mean ± std table, ``Average`` row included; no CI), ``iqm`` per
    task and for ``All tasks``, ``optimality_gap`` for ``All tasks``, and ``probability_of_improvement`` with
    column ``X > Y`` (n = tasks compared). Undefined values are ``nan``; a missing cell has n = 0.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STATS_CSV_HEADER)
    nan = math.nan

    def row(metric: str, task: str, label: str, statistic: str, estimate: Estimate | None) -> None:
        value, low, high, n = (nan, nan, nan, 0) if estimate is None else astuple(estimate)
        writer.writerow([metric, task, label, statistic, *(repr(float(v)) for v in (value, low, high)), n])

    for table, st in zip(tables, stats):
        for task in (*table.tasks, AVERAGE):
            for column in table.columns:
                cell = table.cells.get((task, column)) if task != AVERAGE else table.average.get(column)
                for statistic in ("mean", "std"):
                    estimate = None if cell is None else Estimate(getattr(cell, statistic), nan, nan, cell.n)
                    row(table.metric, task, column_label(column), statistic, estimate)
        for task in st.tasks:
            for column in st.columns:
                row(st.metric, task, column_label(column), "iqm", st.iqm.get((task, column)))
        for column in st.columns:
            row(st.metric, ALL_TASKS, column_label(column), "iqm", st.aggregate_iqm.get(column))
            row(st.metric, ALL_TASKS, column_label(column), "optimality_gap", st.optimality_gap.get(column))
        for c in st.comparisons:
            label = f"{column_label(c.x)} > {column_label(c.y)}"
            row(st.metric, ALL_TASKS, label, "probability_of_improvement", c.estimate)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Performance profiles


def write_profile_plot(
    stats: StatsTable, values: dict[tuple[str, Column], list[float]], out_dir: str | Path, warn: Warn = warn_stderr
) -> Path | None:
    """``<out_dir>/performance_profile_<metric>.png``: rliable's score distributions (fraction of runs over all
    tasks with score > τ) with 95% stratified-bootstrap bands, one line per column that has a runs × tasks
    matrix, coloured like the learning curves. None (and a warning) when no column has one."""
    matrices = {}
    for column in stats.columns:
        matrix, reason = score_matrix(values, column, stats.tasks)
        if matrix is None:
            warn(f"{column_label(column)} is not in the {stats.metric} performance profile: {reason}")
            continue
        matrices[column_label(column)] = matrix
    if not matrices:
        warn(f"no column has the same number of runs on every task; no {stats.metric} performance profile written")
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from rliable import plot_utils

    taus, profiles, cis = performance_profile(matrices, stats.reps, stats.seed)
    fig = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = column_colors(stats.columns)
    plot_utils.plot_performance_profiles(
        profiles, taus, performance_profile_cis=cis, ax=ax, colors={k: colors[k] for k in profiles},
        xlabel=r"D4RL-normalized score $\tau$", ylabel=r"fraction of runs with score $> \tau$",
        labelsize="medium", ticklabelsize="medium",
    )  # fmt: skip
    ax.legend(fontsize="small", loc="best")
    ax.set_title(f"{stats.metric}: performance profile over {len(stats.tasks)} task(s)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"performance_profile_{stats.metric}.png"
    save_atomic(fig, target)
    return target
