"""The report's plots: learning curves (one PNG per task, one line per column with a mean ± std band over seeds)
and rliable's performance profiles. The x axis counts gradient steps (integer ticks); the y axis names the score
scale: D4RL's normalisation, or 100·(R − R_min)/(R_max − R_min) with the task's own reference returns.

Seed alignment: when the seeds of a column were evaluated at different steps, each seed is linearly
interpolated onto the union of their evaluation steps restricted to the range that every seed covers
(max of first steps … min of last steps). No seed is extrapolated, and every plotted point averages all
seeds; a seed that stopped early therefore shortens the column's curve. When the seeds share their steps
(the usual case) the grid is exactly those steps and nothing is interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from genrl.io import atomic_file
from genrl.reporting.configs import Cells, Column, column_label, column_sort_key, group_cells
from genrl.reporting.results import Curve, RunRecord, Warn, warn_stderr
from genrl.reporting.stats import StatsTable, performance_profile, score_matrix

D4RL_SCALE = "D4RL-normalized score (0–100)"
REFERENCE_SCALE = "normalized score 100·(R − R_min)/(R_max − R_min)"


@dataclass(frozen=True)
class Band:
    """A column's curve on a common grid: ``mean`` and ``std`` (ddof=1; NaN if ``n == 1``) of ``n`` seeds."""

    step: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n: int


def _finite(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    step, score = np.asarray(curve.step, dtype=np.float64), np.asarray(curve.score, dtype=np.float64)
    keep = np.isfinite(step) & np.isfinite(score)
    order = np.argsort(step[keep], kind="stable")
    return step[keep][order], score[keep][order]


def align_curves(curves: Sequence[Curve]) -> Band | None:
    """Mean ± std over seeds on the union of steps within the range covered by every seed (see module doc)."""
    pairs = [_finite(c) for c in curves]
    pairs = [(s, v) for s, v in pairs if s.size]
    if not pairs:
        return None
    lo, hi = max(s[0] for s, _ in pairs), min(s[-1] for s, _ in pairs)
    if lo > hi:
        return None
    grid = np.unique(np.concatenate([s for s, _ in pairs]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    values = np.stack([np.interp(grid, s, v) for s, v in pairs])
    std = values.std(axis=0, ddof=1) if len(pairs) > 1 else np.full(grid.shape, np.nan)
    return Band(grid, values.mean(axis=0), std, len(pairs))


def plot_filename(task: str) -> str:
    """A file name for a task: characters outside ``[A-Za-z0-9._-]`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", task) + ".png"


def score_scale(records: Sequence[RunRecord]) -> str:
    """The score axis label: D4RL's scale when every run uses D4RL's reference returns, else the generic formula."""
    return D4RL_SCALE if all(r.d4rl_scored for r in records) else REFERENCE_SCALE


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as handle:
        fig.savefig(handle, format="png")
    return target


def plot_task(
    task: str, bands: dict[str, Band], colors: dict[str, str], dataset_score: float | None, scale: str = D4RL_SCALE
) -> Figure:
    """One task's figure (Agg canvas): a line and a ±std band per column label, optional dataset level."""
    fig, ax = _figure()
    for label, band in bands.items():
        color = colors[label]
        marker = "o" if band.step.size == 1 else None
        ax.plot(band.step, band.mean, color=color, marker=marker, label=f"{label} (n={band.n})")
        if band.n > 1:
            ax.fill_between(band.step, band.mean - band.std, band.mean + band.std, color=color, alpha=0.2, lw=0)
    if dataset_score is not None:
        ax.axhline(dataset_score, color="0.4", ls="--", lw=1, label="Dataset")
    ax.set_title(task)
    ax.set_xlabel("policy-phase gradient step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel(scale)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return fig


def column_colors(columns: Sequence[Column]) -> dict[str, str]:
    """Column label → matplotlib colour, in the table's column order (shared by every plot)."""
    ordered = sorted(columns, key=column_sort_key)
    return {column_label(c): f"C{i % 10}" for i, c in enumerate(ordered)}


def write_curve_plots(
    records: Sequence[RunRecord], out_dir: str | Path, warn: Warn = warn_stderr, cells: Cells | None = None
) -> list[Path]:
    """Write ``<out_dir>/<task>.png`` for every task with curve data (atomically); return the written paths.

    One line per table column (configurations that differ in more than the seed are separate columns, see
    genrl.reporting.configs). Line colours follow the table's column order, so a column keeps its colour
    across tasks.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = (cells if cells is not None else group_cells(records)).runs
    columns = sorted({key[1:] for key in groups}, key=column_sort_key)
    colors = column_colors(columns)
    written = []
    for task in sorted({key[0] for key in groups}):
        bands = {}
        for column in columns:
            runs = groups.get((task, *column), [])
            band = align_curves([r.curve for r in runs if r.curve is not None])
            if band is not None:
                bands[column_label(column)] = band
            elif any(r.curve is not None for r in runs):
                warn(f"no common step range for {task} {column_label(column)}; its curve is not plotted")
        if not bands:
            warn(f"no curve data for {task}; no plot written")
            continue
        runs = [r for r in records if r.env == task]
        scores = [r.dataset_score for r in runs if r.dataset_score is not None]
        fig = plot_task(task, bands, colors, float(np.mean(scores)) if scores else None, score_scale(runs))
        written.append(_save(fig, out_dir / plot_filename(task)))
    return written


def write_profile_plot(
    stats: StatsTable,
    values: dict[tuple[str, Column], list[float]],
    out_dir: str | Path,
    warn: Warn = warn_stderr,
    scale: str = D4RL_SCALE,
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
    from rliable import plot_utils  # optional: only --stats needs rliable (and its arch, scipy, seaborn)

    taus, profiles, cis = performance_profile(matrices, stats.reps, stats.seed)
    fig, ax = _figure()
    colors = column_colors(stats.columns)
    plot_utils.plot_performance_profiles(
        profiles, taus, performance_profile_cis=cis, ax=ax, colors={k: colors[k] for k in profiles},
        xlabel=f"threshold $\\tau$ on the {scale}", ylabel=r"fraction of runs with score $> \tau$",
        labelsize="medium", ticklabelsize="medium",
    )  # fmt: skip
    ax.legend(fontsize="small", loc="best")
    ax.set_title(f"{stats.metric}: performance profile over {len(stats.tasks)} task(s)")
    return _save(fig, Path(out_dir) / f"performance_profile_{stats.metric}.png")
