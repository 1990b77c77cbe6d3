"""Aggregate runs into a task × (algorithm, path) table of ``mean ± std``; render it as Markdown, LaTeX, CSV.

Conventions (stated in every footnote):

* a cell is the mean and the sample standard deviation (ddof=1) of one metric over the seeds of that
  (env, algorithm, path) — only over runs whose configuration is identical apart from the seed: runs that
  differ in anything else are separate columns labelled by what differs (genrl.reporting.configs);
  the std is undefined (NaN, printed ``–``) when there is a single seed;
* the Average row is the mean over tasks of the cell means, and its ± is the mean over tasks of the per-task
  stds, as in the published GenerativeRL table (spec §9). It is only given when every task has that column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from genrl.reporting.configs import Cells, group_cells, variant_sort_key
from genrl.reporting.results import RunRecord

METRICS: dict[str, str] = {
    "score_final": "last evaluation of the policy",
    "score_best": "best evaluation during policy training",
}
ALGORITHM_ORDER = ("gmpo", "gmpg", "bc", "iql")
PATH_ORDER = ("vpsde", "gvp", "icfm", "none")
NO_PATH = "none"  # the path of algorithms whose policy is not generative (IQL): its column is just "IQL"
AVERAGE = "Average"
DATASET = "Dataset"
MISSING = "—"  # em dash: no runs for this cell
NO_STD = "–"  # en dash: std undefined (a single seed)
CSV_HEADER = ("metric", "task", "column", "mean", "std", "n")

Column = tuple[str, ...]  # (algorithm, path) or (algorithm, path, variant), lower-case; variant "" = the only one


@dataclass(frozen=True)
class Cell:
    """Mean and sample std (ddof=1, NaN when ``n == 1``) of ``n`` values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Cell:
        """Aggregate a non-empty sequence of values."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            raise ValueError("a cell needs at least one value")
        std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
        return cls(float(np.mean(arr)), std, int(arr.size))


@dataclass(frozen=True)
class Table:
    """One metric's table. ``average[col]`` is None when some task lacks that column."""

    metric: str
    tasks: tuple[str, ...]
    columns: tuple[Column, ...]
    cells: dict[tuple[str, Column], Cell]
    average: dict[Column, Cell | None]
    dataset: dict[str, Cell]
    dataset_average: float | None
    eval_envs: tuple[str, ...]
    eval_episodes: tuple[int, ...]
    budgets: tuple[str, ...]
    n_runs: int
    n_skipped: int = 0
    varying: dict[tuple[str, str], tuple[str, ...]] | None = None  # (algorithm, path) → keys that split columns
    without_config: int = 0  # runs compared on results.json fields only (no config.yaml beside them)

    def missing_tasks(self, column: Column) -> list[str]:
        """Tasks without runs for ``column``."""
        return [task for task in self.tasks if (task, column) not in self.cells]


def column_label(column: Column) -> str:
    """``("gmpo", "gvp")`` → ``"GMPO-GVP"``; ``("iql", "none")`` → ``"IQL"``;
    ``("gmpo", "gvp", "algorithm.beta=3.0")`` → ``"GMPO-GVP [algorithm.beta=3.0]"``."""
    base = column[0].upper() if column[1] == NO_PATH else f"{column[0]}-{column[1]}".upper()
    variant = column[2] if len(column) > 2 else ""
    return f"{base} [{variant}]" if variant else base


def _rank(name: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(name), "") if name in order else (len(order), name)


def column_sort_key(column: Column) -> tuple:
    """gmpo, gmpg, bc, iql, then vpsde, gvp, icfm; unknown names after the known ones, alphabetically; variants
    of one (algorithm, path) in natural order of their labels."""
    variant = column[2] if len(column) > 2 else ""
    return (_rank(column[0], ALGORITHM_ORDER), _rank(column[1], PATH_ORDER), variant_sort_key(variant))


def _distinct(values: Iterable[object]) -> tuple:
    return tuple(sorted({v for v in values if v is not None}, key=str))


def build_table(
    records: Sequence[RunRecord], metric: str, n_skipped: int = 0, cells: Cells | None = None
) -> Table:
    """Aggregate ``records`` for ``metric`` (``score_final`` or ``score_best``); tasks sorted by name.

    ``cells`` is the grouping of the runs into configurations (default: :func:`group_cells` with ``split``).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {list(METRICS)}")
    cells_ = cells if cells is not None else group_cells(records, column_label=column_label)
    groups = cells_.runs
    tasks = tuple(sorted({key[0] for key in groups}))
    columns = tuple(sorted({key[1:] for key in groups}, key=column_sort_key))
    cells = {(key[0], key[1:]): Cell.of([run.metric(metric) for run in runs]) for key, runs in groups.items()}
    average: dict[Column, Cell | None] = {}
    for column in columns:
        per_task = [cells.get((task, column)) for task in tasks]
        present = [cell for cell in per_task if cell is not None]
        if len(present) != len(per_task):
            average[column] = None
            continue
        average[column] = Cell(
            mean=float(np.mean([cell.mean for cell in present])),
            std=float(np.mean([cell.std for cell in present])),  # NaN as soon as one task has n == 1
            n=len(present),
        )
    dataset = {}
    for task in tasks:
        scores = [r.dataset_score for r in records if r.env == task and r.dataset_score is not None]
        if scores:
            dataset[task] = Cell.of(scores)
    dataset_average = (
        float(np.mean([dataset[t].mean for t in tasks])) if dataset and len(dataset) == len(tasks) else None
    )
    return Table(
        metric=metric,
        tasks=tasks,
        columns=columns,
        cells=cells,
        average=average,
        dataset=dataset,
        dataset_average=dataset_average,
        eval_envs=_distinct(r.eval_env for r in records),
        eval_episodes=_distinct(
            r.raw.get("eval_episodes") for r in records if _is_int(r.raw.get("eval_episodes"))
        ),
        budgets=_distinct(r.raw.get("budget") for r in records if isinstance(r.raw.get("budget"), str)),
        n_runs=len(records),
        n_skipped=n_skipped,
        varying=cells_.varying,
        without_config=cells_.without_config,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------------------
# Text pieces shared by the renderers (plain Unicode; LaTeX converts ± and the dashes)


def format_cell(cell: Cell | None, decimals: int = 1, average: bool = False) -> str:
    """``"71.3 ± 2.1 (n=5)"``; ``"71.3 ± – (n=1)"``; ``"—"`` for a missing cell. Average cells carry no n."""
    if cell is None:
        return MISSING
    undefined = math.isnan(cell.std) and (average or cell.n == 1)  # else a nan score shows up as nan
    std = NO_STD if undefined else f"{cell.std:.{decimals}f}"
    text = f"{cell.mean:.{decimals}f} ± {std}"
    return text if average else f"{text} (n={cell.n})"


def title(table: Table) -> str:
    """One-line caption, e.g. ``score_final (last): last evaluation of the policy``."""
    short = (
        "last" if table.metric == "score_final" else "best" if table.metric == "score_best" else table.metric
    )
    return f"{table.metric} ({short}): {METRICS[table.metric]}"


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
        missing = "; ".join(
            f"{column_label(c)} has no runs on {', '.join(table.missing_tasks(c))}" for c in incomplete
        )
        lines.append(f"{AVERAGE} is {MISSING} where a column does not cover every task: {missing}.")
    undefined = [c for c in table.columns if (a := table.average.get(c)) is not None and math.isnan(a.std)]
    if undefined:
        lines.append(
            f"{AVERAGE} ± is {NO_STD} for {', '.join(map(column_label, undefined))}: "
            "some task has a single seed (or a nan score)."
        )
    scale = (
        f"Scores: D4RL-normalized, 0–100 (0 = random, 100 = expert reference); {table.metric} = "
        f"{METRICS[table.metric]}."
    )
    if table.dataset:
        scale += f" {DATASET} = the behaviour dataset's own normalized score (dataset_score, mean over runs)."
    lines.append(scale)
    envs = ", ".join(table.eval_envs) if table.eval_envs else "not recorded"
    evaluation = f"Evaluation envs: {envs}"
    if table.eval_episodes:
        evaluation += f"; {' or '.join(map(str, table.eval_episodes))} episodes per evaluation"
    if table.budgets:
        evaluation += f"; budget: {', '.join(table.budgets)}"
    lines.append(evaluation + ".")
    runs = f"Runs read: {table.n_runs} results.json"
    if table.n_skipped:
        runs += f" ({table.n_skipped} unreadable file{'s' if table.n_skipped > 1 else ''} skipped)"
    lines.append(runs + ".")
    return lines


def config_notes(table: Table) -> list[str]:
    """What the no-mixed-cells check found: the keys that split columns, runs it could not fully check."""
    lines = []
    if table.varying:
        split = "; ".join(f"{column_label(c)} by {', '.join(keys)}" for c, keys in sorted(table.varying.items()))
        lines.append(
            "A cell averages only runs whose configuration (config.yaml) is identical apart from the seed; runs that "
            f"differ are separate columns labelled [key=value]: {split}."
        )
    if table.without_config:
        lines.append(
            f"{table.without_config} run(s) have no config.yaml beside results.json: they were compared on the "
            "protocol fields of results.json only (budget, recipe, sampling, steps, …)."
        )
    return lines


def _rows(table: Table, decimals: int) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, task rows and Average row as plain strings."""
    with_dataset = bool(table.dataset)
    header = ["Task", *([DATASET] if with_dataset else []), *map(column_label, table.columns)]
    body = []
    for task in table.tasks:
        row = [task]
        if with_dataset:
            cell = table.dataset.get(task)
            row.append(MISSING if cell is None else f"{cell.mean:.{decimals}f}")
        row += [format_cell(table.cells.get((task, c)), decimals) for c in table.columns]
        body.append(row)
    average = [AVERAGE]
    if with_dataset:
        average.append(MISSING if table.dataset_average is None else f"{table.dataset_average:.{decimals}f}")
    average += [format_cell(table.average.get(c), decimals, average=True) for c in table.columns]
    return header, body, average


# ---------------------------------------------------------------------------------------------------------
# Renderers


def render_markdown(table: Table, decimals: int = 1) -> str:
    """A GitHub pipe table with a bold caption above and the footnote as a list below."""
    header, body, average = _rows(table, decimals)
    average = [f"**{average[0]}**", *average[1:]]
    rows = [[cell.replace("|", "\\|") for cell in row] for row in (header, *body, average)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cells[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)),
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join([":" + "-" * (widths[0] + 1), *("-" * (w + 1) + ":" for w in widths[1:])]) + "|"
    out = [f"**{title(table)}**", "", line(rows[0]), rule, *map(line, rows[1:]), ""]
    out += [f"- {note}" for note in footnote(table)]
    return "\n".join(out) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_UNICODE = {"±": r"$\pm$", "—": "---", "–": "--"}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (underscores included) and spell ±, — and – the LaTeX way."""
    escaped = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return "".join(_LATEX_UNICODE.get(ch, ch) for ch in escaped)


def render_latex(table: Table, decimals: int = 1) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``) followed by the footnote in ``\\footnotesize``."""
    header, body, average = _rows(table, decimals)

    def line(cells: Sequence[str]) -> str:
        return " & ".join(map(latex_escape, cells)) + r" \\"

    out = [
        f"% genrl-report: {latex_escape(title(table))}",
        r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
        r"\toprule",
        line(header),
        r"\midrule",
        *map(line, body),
        r"\midrule",
        line(average),
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip",
        r"{\footnotesize\noindent",
        " \\\\\n".join(map(latex_escape, footnote(table))) + r"\par}",
    ]
    return "\n".join(out) + "\n"


def _full(value: float) -> str:
    return repr(float(value))  # shortest string that round-trips exactly; "nan" when undefined


def render_csv(tables: Sequence[Table]) -> str:
    """Machine-readable rows ``metric,task,column,mean,std,n`` at full precision, one header for all tables.

    Missing cells are ``nan,nan,0``; an undefined std (n=1) is ``nan``. Task rows come first, then
    ``Average`` (its n is the number of tasks). The ``Dataset`` column carries the mean/std of
    ``dataset_score`` over runs.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)

    def row(metric: str, task: str, label: str, cell: Cell | None) -> None:
        mean, std, n = (math.nan, math.nan, 0) if cell is None else (cell.mean, cell.std, cell.n)
        writer.writerow([metric, task, label, _full(mean), _full(std), n])

    for table in tables:
        for task in table.tasks:
            if table.dataset:
                row(table.metric, task, DATASET, table.dataset.get(task))
            for column in table.columns:
                row(table.metric, task, column_label(column), table.cells.get((task, column)))
        if table.dataset:
            avg = table.dataset_average
            row(
                table.metric, AVERAGE, DATASET, None if avg is None else Cell(avg, math.nan, len(table.tasks))
            )
        for column in table.columns:
            row(table.metric, AVERAGE, column_label(column), table.average.get(column))
    return buffer.getvalue()


RENDERERS = {"markdown": render_markdown, "latex": render_latex}
