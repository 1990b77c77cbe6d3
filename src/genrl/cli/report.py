"""``genrl-report``: seed sweeps (directories of results.json files, or JSONL files of them) → mean ± std tables
and curve plots."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from genrl.errors import GenrlError
from genrl.io import check_output_dir, check_output_file, closed_pipe_safe, write_text
from genrl.reporting.configs import MIXED, Cells, Column, group_cells
from genrl.reporting.curves import score_scale, write_curve_plots, write_profile_plot
from genrl.reporting.render import FORMATS, render_csv, render_stats_csv, render_text
from genrl.reporting.results import RunRecord, find_results, read_files, warn_stderr
from genrl.reporting.stats import DEFAULT_REPS, StatsTable, build_stats, parse_comparisons
from genrl.reporting.tables import METRICS, Table, build_cost_rows, build_table
from genrl.run_folder import FAILED_JOBS_DIR

EPILOG = """\
Every results.json below the given directories is read (recursively; the layout does not matter), and every
line of a given .jsonl file (one results.json object per line, as in docs/results/*.jsonl); runs are grouped
by (env, algorithm, path). Rows are tasks (sorted by name) plus an Average row; columns are
ALGORITHM-PATH (gmpo, gmpg, bc, iql; vpsde, gvp, icfm; unknown names after, alphabetically; IQL, whose
policy is not generative, has no path), plus a Dataset column with the behaviour data's own score when the
runs record dataset_score.

No mixed cells: a cell averages only runs whose resolved config.yaml (beside results.json) is identical
apart from the seed and the keys a resumed run may change (logger, checkpoint, device, eval.vectorization,
eval.num_envs). Runs that differ in anything else (beta, budget, dataset file, recipe, steps, ...) become
separate columns labelled by what differs, e.g. "GMPO-GVP [algorithm.beta=3.0]" (--mixed split, the
default), or the report stops with one line naming the key (--mixed refuse). Runs without config.yaml (all
those of a .jsonl file) are compared on results.json's protocol fields (budget, recipe, sampling, steps, ...)
and on the ablation that scripts/bench_quality.py records (absent = none, the recipe): an ablation gets its own
column, e.g. "GMPG-GVP [ablation=pg-beta-4]" beside "GMPG-GVP [ablation=none]".

Cells are "mean ± std (n=K)" over seeds, std = sample std (ddof=1; "± –" when n=1), "—" = no runs.
The Average row is the mean over tasks of the cell means, its ± the mean over tasks of the per-task stds
(the published GenerativeRL convention); it is "—" unless the column covers every task.
CSV rows are metric,task,column,mean,std,n at full precision (missing: nan,nan,0; std nan when n=1).

Curves (--plots): x = policy-phase gradient step, y = normalized score, mean ± std band over seeds. Seeds
evaluated at different steps are linearly interpolated onto the union of their steps within the range
every seed covers (no extrapolation).

Statistics (--stats, or --compare X:Y): with the rliable library (Agarwal et al., NeurIPS 2021), after
each mean ± std table, per task the interquartile mean (IQM) of the seeds with a 95% percentile bootstrap CI,
and per column the IQM over all runs and tasks and the optimality gap (gamma = 100) with stratified-bootstrap
CIs (a column needs the same number of runs on every task); --compare X:Y (repeatable; columns by label or
algorithm, e.g. gmpo-gvp:bc) adds the probability of improvement P(X > Y) with its CI over the tasks both
cover. Bootstraps use --reps resamples with numpy seeded to --seed before each interval (reproducible). With
--plots, performance_profile_<metric>.png (fraction of runs with score > tau, rliable) is written next to the
learning curves. --format csv with statistics is long: metric,task,column,statistic,estimate,ci_low,ci_high,n
(statistic: mean, std, iqm, optimality_gap, probability_of_improvement).

Unreadable results.json files and .jsonl lines are skipped with a warning (naming FILE:LINE). Exit status: 0
on success, 2 when no usable run is found, a given path does not exist or is a file other than a results.json
or .jsonl, --mixed refuse finds a mixed cell or --compare names no column.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``genrl-report``."""
    parser = argparse.ArgumentParser(
        prog="genrl-report",
        description="Turn seed sweeps into mean ± std tables (Markdown, LaTeX, CSV), rliable statistics (IQM, "
        "optimality gap, probability of improvement with bootstrap CIs) and learning curves.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sweep_dirs",
        nargs="+",
        metavar="SWEEP_DIR",
        help="directories searched for results.json, results.json files, or .jsonl files of run records "
        "(one results.json object per line)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="markdown",
        help="table format (default: %(default)s)",
    )
    parser.add_argument(
        "--metric",
        choices=[*METRICS, "both"],
        default="both",
        help="score_final (last evaluation), score_best (best evaluation) or both (default: %(default)s)",
    )
    parser.add_argument("--plots", metavar="DIR", type=Path, help="also write one learning-curve PNG per task to DIR")
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
    parser.add_argument(
        "--mixed",
        choices=MIXED,
        default="split",
        help="runs of one task and column whose configurations differ in more than the seed: split them into "
        "labelled columns, or refuse (default: %(default)s)",
    )
    parser.add_argument(
        "--stats", action="store_true", help="add rliable's IQM and optimality gap with 95%% bootstrap CIs"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="X:Y",
        help="probability of improvement of column X over column Y, e.g. gmpo-gvp:bc (repeatable; implies --stats)",
    )
    parser.add_argument(
        "--reps", type=int, default=DEFAULT_REPS, metavar="N", help="bootstrap resamples (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of every bootstrap (default: %(default)s)")
    return parser


def _values(cells: Cells, metric: str) -> dict[tuple[str, Column], list[float]]:
    return {(key[0], key[1:]): [run.metric(metric) for run in runs] for key, runs in cells.runs.items()}


def statistics(args: argparse.Namespace, tables: Sequence[Table], cells: Cells) -> list[StatsTable]:
    """rliable's statistics for each table when --stats or --compare asks for them (else none)."""
    if not (getattr(args, "stats", False) or getattr(args, "compare", None)) or not tables:
        return []
    pairs = parse_comparisons(args.compare, tables[0].columns)
    return [
        build_stats(_values(cells, t.metric), t.metric, t.tasks, t.columns, pairs, args.reps, args.seed) for t in tables
    ]


def render(
    args: argparse.Namespace,
    records: Sequence[RunRecord],
    n_skipped: int = 0,
    cells: Cells | None = None,
    stats: Sequence[StatsTable] | None = None,
) -> str:
    """The text output for the parsed options; ``stats`` (computed when None) follow each metric's table."""
    if cells is None:
        cells = group_cells(records, getattr(args, "mixed", "split"))
    metrics = list(METRICS) if args.metric == "both" else [args.metric]
    tables = [build_table(records, metric, n_skipped=n_skipped, cells=cells) for metric in metrics]
    stats = statistics(args, tables, cells) if stats is None else stats
    if args.format == "csv":
        return render_stats_csv(tables, stats) if stats else render_csv(tables)
    costs = build_cost_rows(records, tables[0], cells)
    return render_text(tables, stats, args.format, args.decimals, costs)


def failed_jobs(roots: list[str]) -> list[Path]:
    """The records train.py left for sweep jobs that failed their checks (``<sweep>/failed_jobs/*.json``)."""
    return sorted(f for root in roots for f in Path(root).rglob(f"{FAILED_JOBS_DIR}/*.json") if f.is_file())


def _failure(file: Path) -> str:
    try:
        return str(json.loads(file.read_text())["error"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{file} unreadable"


@closed_pipe_safe
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``genrl-report``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.reps < 1:
        print("error: --reps must be >= 1", file=sys.stderr)
        return 2
    where = ", ".join(args.sweep_dirs)
    try:
        if args.output is not None:  # before reading anything
            check_output_file(args.output, "--output")
        if args.plots is not None:
            check_output_dir(args.plots, "--plots")
        files = find_results(args.sweep_dirs)
        if not files:
            raise GenrlError(f"no results.json found under {where}")
        records, n_skipped = read_files(files)
        if not records:
            raise GenrlError(f"no readable results.json or .jsonl line under {where} ({n_skipped} unreadable)")
        # warns about repeated seeds inside a cell; refuses mixed cells with --mixed refuse
        cells = group_cells(records, args.mixed, warn=warn_stderr)
        metrics = list(METRICS) if args.metric == "both" else [args.metric]
        stats = statistics(args, [build_table(records, m, cells=cells) for m in metrics], cells)
        text = render(args, records, n_skipped=n_skipped, cells=cells, stats=stats)
    except (GenrlError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = failed_jobs(args.sweep_dirs)
    if failed:  # a sweep's jobs that failed their checks have no results.json: say how many
        note = (
            f"{len(failed)} job(s) of these sweeps failed their checks and have no results.json "
            f"({', '.join(sorted({str(f.parent) for f in failed}))}; the first: {_failure(failed[0])})"
        )
        print(f"genrl-report: {note}", file=sys.stderr)
        if args.format != "csv":
            text += f"\n{note}\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text(text, args.output)
        print(f"genrl-report: wrote {args.output}", file=sys.stderr)
    if args.plots is not None:
        written = write_curve_plots(records, args.plots, cells=cells)
        for st in stats:
            profile = write_profile_plot(st, _values(cells, st.metric), args.plots, scale=score_scale(records))
            written += [profile] if profile is not None else []
        print(f"genrl-report: wrote {len(written)} plot(s) to {args.plots}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
