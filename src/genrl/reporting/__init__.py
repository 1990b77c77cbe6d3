"""Reporting: results.json files of seed sweeps (or JSONL files of them) → mean ± std tables (Markdown, LaTeX,
CSV), rliable statistics (IQM, optimality gap, probability of improvement with bootstrap CIs) and curve and
performance-profile plots.

Loading (results), grouping into cells (configs), aggregation (tables, stats) and output (render, curves) are
separate modules; ``genrl-report`` (:mod:`genrl.cli.report`) wires them together.
"""

from genrl.reporting.configs import column_sort_key, group_cells
from genrl.reporting.curves import align_curves, write_curve_plots
from genrl.reporting.results import Curve, RunRecord, load_runs
from genrl.reporting.stats import build_stats
from genrl.reporting.tables import build_table

__all__ = [
    "Curve",
    "RunRecord",
    "align_curves",
    "build_stats",
    "build_table",
    "column_sort_key",
    "group_cells",
    "load_runs",
    "write_curve_plots",
]
