"""Learning-curve plots: one PNG per task, one line per (algorithm, path) with a mean ± std band over seeds.

Seed alignment: when the seeds of a column were evaluated at different steps, each seed is linearly
interpolated onto the union of their evaluation steps restricted to the range that every seed covers
(max of first steps … min of last steps). No seed is extrapolated, and every plotted point averages all
seeds; a seed that stopped early therefore shortens the column's curve. When the seeds share their steps
(the usual case) the grid is exactly those steps and nothing is interpolated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genrl.reporting.configs import Cells, group_cells
from genrl.reporting.results import Curve, RunRecord, Warn, warn_stderr
from genrl.reporting.tables import column_label, column_sort_key


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


def save_atomic(fig: Figure, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # same dir: os.replace is atomic
    try:
        with open(tmp, "wb") as handle:
            fig.savefig(handle, format="png")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def plot_task(
    task: str, bands: dict[str, Band], colors: dict[str, str], dataset_score: float | None
) -> Figure:
    """One task's figure (Agg canvas): a line and a ±std band per column label, optional dataset level."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, band in bands.items():
        color = colors[label]
        marker = "o" if band.step.size == 1 else None
        ax.plot(band.step, band.mean, color=color, marker=marker, label=f"{label} (n={band.n})")
        if band.n > 1:
            ax.fill_between(
                band.step, band.mean - band.std, band.mean + band.std, color=color, alpha=0.2, lw=0
            )
    if dataset_score is not None:
        ax.axhline(dataset_score, color="0.4", ls="--", lw=1, label="Dataset")
    ax.set_title(task)
    ax.set_xlabel("policy-phase gradient step")
    ax.set_ylabel("D4RL-normalized score (0–100)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return fig


def column_colors(columns: Sequence[tuple[str, ...]]) -> dict[str, str]:
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
    groups = (cells if cells is not None else group_cells(records, column_label=column_label)).runs
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
        scores = [r.dataset_score for r in records if r.env == task and r.dataset_score is not None]
        fig = plot_task(task, bands, colors, float(np.mean(scores)) if scores else None)
        target = out_dir / plot_filename(task)
        save_atomic(fig, target)
        written.append(target)
    return written
