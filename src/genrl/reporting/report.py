"""``genrl-report``: seed sweeps (directories of results.json files) → mean ± std tables and curve plots."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from genrl.errors import GenrlError
from genrl.reporting.curves import write_curve_plots
from genrl.reporting.results import RunRecord, find_results, group_runs, load_files
from genrl.reporting.tables import METRICS, RENDERERS, build_table, render_csv

EPILOG = """\
Every results.json below the given directories is read (recursively; the layout does not matter) and runs
are grouped by (env, algorithm, path). Rows are tasks (sorted by name) plus an Average row; columns are
ALGORITHM-PATH (gmpo before gmpg; vpsde, gvp, icfm; unknown names after, alphabetically), plus a Dataset
column with the behaviour data's own score when the runs record dataset_score.

Cells are "mean ± std (n=K)" over seeds, std = sample std (ddof=1; "± –" when n=1), "—" = no runs.
The Average row is the mean over tasks of the cell means, its ± the mean over tasks of the per-task stds
(the published GenerativeRL convention); it is "—" unless the column covers every task.
CSV rows are metric,task,column,mean,std,n at full precision (missing: nan,nan,0; std nan when n=1).

Curves (--plots): x = policy-phase gradient step, y = normalized score, mean ± std band over seeds. Seeds
evaluated at different steps are linearly interpolated onto the union of their steps within the range
every seed covers (no extrapolation).

Unreadable results.json files are skipped with a warning. Exit status: 0 on success, 2 when no usable
results.json is found or a directory does not exist.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``genrl-report``."""
    parser = argparse.ArgumentParser(
        prog="genrl-report",
        description="Turn seed sweeps into mean ± std tables (Markdown, LaTeX, CSV) and learning curves.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sweep_dirs", nargs="+", metavar="SWEEP_DIR", help="directories searched for results.json"
    )
    parser.add_argument(
        "--format",
        choices=["markdown", "latex", "csv"],
        default="markdown",
        help="table format (default: %(default)s)",
    )
    parser.add_argument(
        "--metric",
        choices=[*METRICS, "both"],
        default="both",
        help="score_final (last evaluation), score_best (best evaluation) or both (default: %(default)s)",
    )
    parser.add_argument(
        "--plots", metavar="DIR", type=Path, help="also write one learning-curve PNG per task to DIR"
    )
    parser.add_argument(
        "--output", metavar="FILE", type=Path, help="write the tables to FILE (atomically) instead of stdout"
    )
    parser.add_argument(
        "--decimals",
        type=int,
        default=1,
        choices=range(0, 7),
        metavar="N",
        help="decimals in Markdown/LaTeX cells, 0-6 (default: %(default)s; CSV is always full precision)",
    )
    return parser


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same dir: os.replace is atomic
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render(args: argparse.Namespace, records: Sequence[RunRecord], n_skipped: int = 0) -> str:
    """The text output for the parsed options."""
    metrics = list(METRICS) if args.metric == "both" else [args.metric]
    tables = [build_table(records, metric, n_skipped=n_skipped) for metric in metrics]
    if args.format == "csv":
        return render_csv(tables)
    renderer = RENDERERS[args.format]
    return "\n".join(renderer(table, args.decimals) for table in tables)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``genrl-report``; returns the exit status."""
    args = build_parser().parse_args(argv)
    where = ", ".join(args.sweep_dirs)
    try:
        files = find_results(args.sweep_dirs)
        if not files:
            raise GenrlError(f"no results.json found under {where}")
        records = load_files(files)
        if not records:
            raise GenrlError(f"no readable results.json under {where} ({len(files)} unreadable)")
    except GenrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    group_runs(records)  # only for its warnings about repeated seeds
    text = render(args, records, n_skipped=len(files) - len(records))
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.output, text)
        print(f"genrl-report: wrote {args.output}", file=sys.stderr)
    if args.plots is not None:
        written = write_curve_plots(records, args.plots)
        print(f"genrl-report: wrote {len(written)} plot(s) to {args.plots}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
