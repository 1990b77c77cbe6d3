"""Reporting: results.json files of seed sweeps → mean ± std tables (Markdown, LaTeX, CSV) and curve plots."""

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
    "Curve",
    "ResultsError",
    "RunRecord",
    "Table",
    "align_curves",
    "build_table",
    "column_label",
    "column_sort_key",
    "find_results",
    "footnote",
    "format_cell",
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
]
