"""Reporting: results.json files of seed sweeps → mean ± std tables (Markdown, LaTeX, CSV), rliable statistics
(IQM, optimality gap, probability of improvement with bootstrap CIs) and curve and performance-profile plots."""

from genrl.reporting.configs import Cells, group_cells
from genrl.reporting.curves import Band, align_curves, plot_filename, write_curve_plots
from genrl.reporting.report import main
from genrl.reporting.results import (
    Curve,
    ResultsError,
    RunRecord,
    find_results,
    group_runs,
    load_files,
    load_record,
    load_runs,
)
from genrl.reporting.stats import Estimate, StatsTable, build_stats, write_profile_plot
from genrl.reporting.tables import (
    Cell,
    Table,
    build_table,
    column_label,
    column_sort_key,
    footnote,
    format_cell,
    latex_escape,
    render_csv,
    render_latex,
    render_markdown,
)

__all__ = [
    "Band",
    "Cell",
    "Cells",
    "Curve",
    "Estimate",
    "ResultsError",
    "RunRecord",
    "StatsTable",
    "Table",
    "align_curves",
    "build_stats",
    "build_table",
    "column_label",
    "column_sort_key",
    "find_results",
    "footnote",
    "format_cell",
    "group_cells",
    "group_runs",
    "latex_escape",
    "load_files",
    "load_record",
    "load_runs",
    "main",
    "plot_filename",
    "render_csv",
    "render_latex",
    "render_markdown",
    "write_curve_plots",
    "write_profile_plot",
]
