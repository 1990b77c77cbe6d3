"""The report as text: each table (mean ± std, rliable's statistics, probabilities of improvement) becomes a
:class:`TextTable` — caption, cells and the notes that state its conventions — laid out by ``tabulate`` as a
Markdown pipe table or a booktabs LaTeX ``tabular``; CSV rows carry the same numbers at full precision."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import SEPARATING_LINE, DataRow, Line, TableFormat, tabulate

from genrl.reporting.configs import column_label
from genrl.reporting.stats import GAMMA, Estimate, StatsTable
from genrl.reporting.tables import COST_FIELDS, METRICS, Cell, CostRow, Table

AVERAGE = "Average"
DATASET = "Dataset"
MISSING = "—"  # em dash: no runs for this cell
NO_STD = "–"  # en dash: std or CI undefined (a single seed)
IQM_ROW = "IQM (all tasks)"
GAP_ROW = f"Optimality gap (γ={GAMMA:g})"
ALL_TASKS = "All tasks"
FORMATS = ("markdown", "latex", "csv")


@dataclass(frozen=True)
class TextTable:
    """A table as text. Rows from ``summary`` on summarise the ones above (bold in Markdown, ruled off in LaTeX)."""

    caption: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]
    summary: int | None = None


# ---------------------------------------------------------------------------------------------------------
# Cells and notes (plain Unicode; LaTeX converts ± and the dashes)


def format_cell(cell: Cell | None, decimals: int = 1, average: bool = False) -> str:
    """``"71.3 ± 2.1 (n=5)"``; ``"71.3 ± – (n=1)"``; ``"—"`` for a missing cell. Average cells carry no n."""
    if cell is None:
        return MISSING
    undefined = math.isnan(cell.std) and (average or cell.n == 1)  # else a nan score shows up as nan
    std = NO_STD if undefined else f"{cell.std:.{decimals}f}"
    text = f"{cell.mean:.{decimals}f} ± {std}"
    return text if average else f"{text} (n={cell.n})"


def format_estimate(estimate: Estimate | None, decimals: int, with_n: bool = False) -> str:
    """``"71.3 [65.0, 75.3] (n=5)"``; ``"71.3 [–] (n=1)"`` without a CI; ``"—"`` when there is none."""
    if estimate is None:
        return MISSING
    ci = f"[{estimate.low:.{decimals}f}, {estimate.high:.{decimals}f}]" if estimate.has_interval else f"[{NO_STD}]"
    text = f"{estimate.value:.{decimals}f} {ci}"
    return f"{text} (n={estimate.n})" if with_n else text


def scale_note(table: Table) -> str:
    """What the scores mean: D4RL's normalisation, or the same formula with each task's own reference returns."""
    if table.d4rl_scored:
        scale = "Scores: D4RL-normalized, 0–100 (0 = random, 100 = expert reference)"
    else:
        scale = "Scores: normalized, 100·(R − R_min)/(R_max − R_min) with each task's reference returns R_min, R_max"
    scale += f"; {table.metric} = {METRICS[table.metric]}."
    if table.dataset:
        scale += f" {DATASET} = the behaviour dataset's own normalized score (dataset_score, mean over runs)."
    return scale


def footnote(table: Table) -> list[str]:
    """Lines under a table: what ± is over, the Average convention, scale, eval envs, runs read."""
    lines = [
        "Cells: mean ± std over seeds (independent training runs) for each task and column; std is the "
        f"sample standard deviation (ddof=1), {NO_STD} when n=1; n = number of seeds; {MISSING} = no runs.",
        *config_notes(table),
        f"{AVERAGE}: mean over the {len(table.tasks)} tasks of the cell means; its ± is the mean over tasks "
        "of the per-task stds (the published GenerativeRL convention), not a spread across tasks.",
    ]
    incomplete = [c for c in table.columns if table.average.get(c) is None]
    if incomplete:
        missing = "; ".join(f"{column_label(c)} has no runs on {', '.join(table.missing_tasks(c))}" for c in incomplete)
        lines.append(f"{AVERAGE} is {MISSING} where a column does not cover every task: {missing}.")
    undefined = [c for c in table.columns if (a := table.average.get(c)) is not None and math.isnan(a.std)]
    if undefined:
        lines.append(
            f"{AVERAGE} ± is {NO_STD} for {', '.join(map(column_label, undefined))}: "
            "some task has a single seed (or a nan score)."
        )
    lines.append(scale_note(table))
    evaluation = f"Evaluation envs: {', '.join(table.eval_envs) if table.eval_envs else 'not recorded'}"
    if table.eval_episodes:
        evaluation += f"; {' or '.join(map(str, table.eval_episodes))} episodes per evaluation"
    if table.final_episodes:
        evaluation += f", {' or '.join(map(str, table.final_episodes))} in the final one (score_final)"
    if table.budgets:
        evaluation += f"; budget: {', '.join(table.budgets)}"
    skipped = f" ({table.n_skipped} unreadable run record{'s' if table.n_skipped > 1 else ''} skipped)"
    return [*lines, evaluation + ".", f"Runs read: {table.n_runs} results.json{skipped if table.n_skipped else ''}."]


def config_notes(table: Table) -> list[str]:
    """What the no-mixed-cells check found: the keys that split columns, runs it could not fully check."""
    lines = []
    if table.varying:
        split = "; ".join(f"{column_label(c)} by {', '.join(keys)}" for c, keys in sorted(table.varying.items()))
        lines.append(
            "A cell averages only runs whose configuration (config.yaml) is identical apart from the seed; runs that "
            f"differ are separate columns labelled [key=value]: {split}."
        )
    if table.not_comparable:
        lines.append(
            f"{table.not_comparable} run(s) were evaluated on episodes capped below the env's time limit (e.g. "
            "budget=smoke) or had no reference returns: their columns are labelled [not comparable] (scores that "
            "normalise partial-episode returns with full-episode references) or [raw return] (unnormalised "
            "episode returns), comparable with no other column or published number."
        )
    if table.without_config:
        lines.append(
            f"{table.without_config} run(s) have no config.yaml beside results.json: they were compared on the "
            "protocol fields of results.json only (budget, recipe, sampling, steps, ablation, …)."
        )
    return lines


# ---------------------------------------------------------------------------------------------------------
# Tables as text


def mean_std_table(table: Table, decimals: int = 1) -> TextTable:
    """The mean ± std table: a row per task, a Dataset column when runs record dataset_score, the Average row."""
    with_dataset, columns = bool(table.dataset), table.columns

    def dataset(cell: Cell | float | None) -> list[str]:
        value = cell.mean if isinstance(cell, Cell) else cell
        return [MISSING if value is None else f"{value:.{decimals}f}"] if with_dataset else []

    rows = [
        [task, *dataset(table.dataset.get(task)), *(format_cell(table.cells.get((task, c)), decimals) for c in columns)]
        for task in table.tasks
    ]
    average = [format_cell(table.average.get(c), decimals, average=True) for c in columns]
    rows.append([AVERAGE, *dataset(table.dataset_average), *average])
    short = {"score_final": "last", "score_best": "best"}.get(table.metric, table.metric)
    return TextTable(
        f"{table.metric} ({short}): {METRICS[table.metric]}",
        ["Task", *([DATASET] if with_dataset else []), *map(column_label, columns)],
        rows,
        footnote(table),
        summary=len(table.tasks),
    )


def stats_tables(stats: StatsTable, decimals: int = 1) -> list[TextTable]:
    """rliable's IQM and optimality gap per column, and the probabilities of improvement when asked for."""
    labels = list(map(column_label, stats.columns))
    rows = [
        [task, *(format_estimate(stats.iqm.get((task, c)), decimals, with_n=True) for c in stats.columns)]
        for task in stats.tasks
    ]
    rows.append([IQM_ROW, *(format_estimate(stats.aggregate_iqm.get(c), decimals) for c in stats.columns)])
    rows.append([GAP_ROW, *(format_estimate(stats.optimality_gap.get(c), decimals) for c in stats.columns)])
    notes = [
        "IQM = interquartile mean (25% trimmed mean) of the seeds' scores; [lo, hi] = 95% percentile bootstrap CI "
        f"over the seeds, {NO_STD} when n=1 (rliable, {stats.reps} resamples, numpy seed {stats.seed}).",
        f"{IQM_ROW}: IQM over all runs of all tasks; {GAP_ROW}: γ − mean(min(score, γ)), lower is better; their CIs "
        "come from rliable's stratified bootstrap (runs resampled within each task).",
        *(
            f"{column_label(column)} has no aggregate: {reason} (rliable's aggregates need runs on every task, the "
            "same number on each)."
            for column, reason in stats.missing_reason.items()
        ),
    ]
    title = f"{stats.metric}: IQM and optimality gap with 95% bootstrap CIs (rliable)"
    out = [TextTable(title, ["Task", *labels], rows, notes, summary=len(stats.tasks))]
    if stats.comparisons:
        rows = [
            [column_label(c.x), column_label(c.y), format_estimate(c.estimate, 2), str(len(c.tasks))]
            for c in stats.comparisons
        ]
        notes = [
            "P(X > Y) = rliable's probability of improvement: per task the probability that a run of X scores above "
            "a run of Y (Mann-Whitney U / (n·m), ties ½), averaged over the tasks both cover; 95% CI from a "
            "stratified bootstrap resampling each method's runs within each task. Above 0.5 favours X; a CI that "
            "excludes 0.5 is a difference the seeds support.",
            *(
                f"{column_label(c.x)} vs {column_label(c.y)}: not computed ({c.reason})."
                for c in stats.comparisons
                if c.estimate is None
            ),
        ]
        header = ["X", "Y", "P(X>Y) [95% CI]", "tasks"]
        out.append(TextTable(f"{stats.metric}: probability of improvement (rliable)", header, rows, notes))
    return out


# ---------------------------------------------------------------------------------------------------------
# Layout (tabulate)


def markdown(table: TextTable) -> str:
    """A bold caption, a GitHub pipe table (first column left-aligned, the others right) and the notes as a list."""
    summary = len(table.rows) if table.summary is None else table.summary
    rows = [[f"**{row[0]}**", *row[1:]] if i >= summary else row for i, row in enumerate(table.rows)]
    escaped = [[cell.replace("|", "\\|") for cell in row] for row in (table.header, *rows)]
    align = ("left", *["right"] * (len(table.header) - 1))
    grid = tabulate(escaped[1:], escaped[0], tablefmt="pipe", colalign=align, disable_numparse=True)
    return "\n".join([f"**{table.caption}**", "", grid, "", *(f"- {note}" for note in table.notes)]) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "—": "---", "–": "--",
}  # fmt: skip


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (underscores included) and spell ±, — and – the LaTeX way."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


_BOOKTABS = TableFormat(
    lineabove=lambda widths, _: "\\begin{tabular}{l" + "c" * (len(widths) - 1) + "}\n\\toprule",
    linebelowheader=Line(r"\midrule", "", "", ""),
    linebetweenrows=None,
    linebelow=Line("\\bottomrule\n\\end{tabular}", "", "", ""),
    headerrow=DataRow("", " & ", r" \\"),
    datarow=DataRow("", " & ", r" \\"),
    padding=0,
    with_header_hide=None,
)


def latex(table: TextTable) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``) followed by the notes in ``\\footnotesize``."""
    rows: list = [[latex_escape(cell) for cell in row] for row in table.rows]
    if table.summary is not None:
        rows.insert(table.summary, [SEPARATING_LINE])  # tabulate draws it as a \midrule
    header = [latex_escape(cell) for cell in table.header]
    grid = tabulate(rows, header, tablefmt=_BOOKTABS, stralign=None, disable_numparse=True)
    notes = " \\\\\n".join(map(latex_escape, table.notes)) + r"\par}"
    caption = f"% genrl-report: {latex_escape(table.caption)}"
    return "\n".join([caption, grid, r"\par\smallskip", r"{\footnotesize\noindent", notes]) + "\n"


def cost_table(rows: Sequence[CostRow], metric: str, decimals: int = 1) -> TextTable:
    """Score × inference cost: a row per column, its Average score beside calls, latency, throughput, training time."""

    def number(value: float | None, digits: int) -> str:
        return MISSING if value is None else f"{value:.{digits}f}"

    digits = {"calls_per_action": 0, "act_ms_batch1": 3, "actions_per_s_batch1024": 0, "wall_time_s": 1}
    body = [
        [column_label(row.column), number(row.score, decimals),
         *(number(row.cost[name], digits[name]) for name in COST_FIELDS), ", ".join(row.devices) or MISSING]
        for row in rows
    ]  # fmt: skip
    notes = [
        "Score: the Average row's mean; the other values: medians over the column's runs, measured after training "
        "on the run's device with its threads (genrl.acting.cost; scripts/bench_act.py measures the same way).",
        "Calls/action: sequential network calls at batch 1 (K candidates are scored in one batched call).",
    ]
    return TextTable(f"Inference cost beside {metric} (Average)", ["Column", AVERAGE, *COST_FIELDS.values(), "device"],
                     body, notes)  # fmt: skip


def render_text(
    tables: Sequence[Table], stats: Sequence[StatsTable], fmt: str, decimals: int = 1, costs: Sequence[CostRow] = ()
) -> str:
    """Each metric's mean ± std table, followed by its statistics when there are any, then the score × inference
    cost table of the first metric when runs recorded their cost, as Markdown or LaTeX."""
    layout = latex if fmt == "latex" else markdown
    parts = []
    for i, table in enumerate(tables):
        parts.append(layout(mean_std_table(table, decimals)))
        if i < len(stats):
            parts.append(("" if fmt == "latex" else "\n").join(map(layout, stats_tables(stats[i], decimals))))
    if costs:
        parts.append(layout(cost_table(costs, tables[0].metric, decimals)))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------------
# CSV


def _full(value: float) -> str:
    return repr(float(value))  # shortest string that round-trips exactly; "nan" when undefined


def _csv(header: Sequence[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue()


def _mean_std_rows(table: Table) -> list[tuple[str, str, Cell | None]]:
    """(task, column label, cell) in CSV order: tasks, then Average; the Dataset column first when present."""
    out = []
    for task in (*table.tasks, AVERAGE):
        if table.dataset:
            avg = table.dataset_average
            average = None if avg is None else Cell(avg, math.nan, len(table.tasks))
            out.append((task, DATASET, table.dataset.get(task) if task != AVERAGE else average))
        for column in table.columns:
            cell = table.cells.get((task, column)) if task != AVERAGE else table.average.get(column)
            out.append((task, column_label(column), cell))
    return out


def render_csv(tables: Sequence[Table]) -> str:
    """Machine-readable rows ``metric,task,column,mean,std,n`` at full precision, one header for all tables.

    Missing cells are ``nan,nan,0``; an undefined std (n=1) is ``nan``. Task rows come first, then
    ``Average`` (its n is the number of tasks). The ``Dataset`` column carries the mean/std of
    ``dataset_score`` over runs.
    """
    rows = []
    for table in tables:
        for task, label, cell in _mean_std_rows(table):
            mean, std, n = (math.nan, math.nan, 0) if cell is None else (cell.mean, cell.std, cell.n)
            rows.append([table.metric, task, label, _full(mean), _full(std), n])
    return _csv(("metric", "task", "column", "mean", "std", "n"), rows)


def render_stats_csv(tables: Sequence[Table], stats: Sequence[StatsTable]) -> str:
    """Long format, full precision: ``metric,task,column,statistic,estimate,ci_low,ci_high,n``.

    ``statistic`` is ``mean`` and ``std`` (the mean ± std table, ``Average`` row included; no CI), ``iqm`` per
    task and for ``All tasks``, ``optimality_gap`` for ``All tasks``, and ``probability_of_improvement`` with
    column ``X > Y`` (n = tasks compared). Undefined values are ``nan``; a missing cell has n = 0.
    """
    rows = []

    def row(metric: str, task: str, label: str, statistic: str, estimate: Estimate | None) -> None:
        value, low, high, n = (math.nan, math.nan, math.nan, 0) if estimate is None else (
            estimate.value, estimate.low, estimate.high, estimate.n)  # fmt: skip
        rows.append([metric, task, label, statistic, _full(value), _full(low), _full(high), n])

    for table, st in zip(tables, stats):
        for task, label, cell in _mean_std_rows(table):
            if label != DATASET:
                for statistic in ("mean", "std"):
                    value = None if cell is None else Estimate(getattr(cell, statistic), math.nan, math.nan, cell.n)
                    row(table.metric, task, label, statistic, value)
        for task in st.tasks:
            for column in st.columns:
                row(st.metric, task, column_label(column), "iqm", st.iqm.get((task, column)))
        for column in st.columns:
            row(st.metric, ALL_TASKS, column_label(column), "iqm", st.aggregate_iqm.get(column))
            row(st.metric, ALL_TASKS, column_label(column), "optimality_gap", st.optimality_gap.get(column))
        for c in st.comparisons:
            label = f"{column_label(c.x)} > {column_label(c.y)}"
            row(st.metric, ALL_TASKS, label, "probability_of_improvement", c.estimate)
    return _csv(("metric", "task", "column", "statistic", "estimate", "ci_low", "ci_high", "n"), rows)
