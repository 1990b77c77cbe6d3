"""genrl-report: printed tables equal numpy aggregates of synthetic results.json sweeps; plots; errors."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from genrl.cli.report import main
from genrl.reporting import Curve, align_curves, column_sort_key

TASKS = ("walker2d-medium-v2", "hopper-medium-v2", "halfcheetah-medium-expert-v2")  # unsorted on purpose
EVAL_ENVS = {"walker2d": "Walker2d-v4", "hopper": "Hopper-v4", "halfcheetah": "HalfCheetah-v4"}
DATASET_SCORES = {"walker2d-medium-v2": 62.1, "hopper-medium-v2": 44.3, "halfcheetah-medium-expert-v2": 64.7}
# (algorithm, path) → seeds per task; gmpg/icfm has no walker2d runs, gmpo/gvp has a single halfcheetah seed.
SEEDS = {
    ("gmpg", "icfm"): {"walker2d-medium-v2": 0, "hopper-medium-v2": 3, "halfcheetah-medium-expert-v2": 2},
    ("gmpo", "gvp"): {"walker2d-medium-v2": 3, "hopper-medium-v2": 2, "halfcheetah-medium-expert-v2": 1},
    ("gmpo", "vpsde"): {"walker2d-medium-v2": 3, "hopper-medium-v2": 4, "halfcheetah-medium-expert-v2": 3},
}
HEADER = ["Task", "Dataset", "GMPO-VPSDE", "GMPO-GVP", "GMPG-ICFM"]
CURVE_STEPS = [0, 100, 200, 300]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

Values = dict[tuple[str, str], dict[str, list[float]]]  # (task, label) → metric → values in seed order


def _write(path: Path, payload: dict | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))


def make_sweeps(root: Path) -> tuple[list[Path], Values]:
    """Two sweep dirs (gmpo runs in one, gmpg in the other), one corrupt file; returns the written scores."""
    rng = np.random.default_rng(123)
    values: Values = {}
    for (alg, path), per_task in SEEDS.items():
        sweep = root / ("sweep_gmpo" if alg == "gmpo" else "sweep_gmpg")
        for task, n_seeds in per_task.items():
            label = f"{alg}-{path}".upper()
            for seed in range(n_seeds):
                final, best = rng.uniform(20, 110), rng.uniform(20, 110)
                best = max(final, best)
                curve = [*rng.uniform(0, 100, len(CURVE_STEPS) - 1), final]
                record = {
                    "algorithm": alg, "path": path, "env": task, "eval_env": EVAL_ENVS[task.split("-")[0]],
                    "seed": seed, "score_final": final, "score_best": best, "return_mean": 1000.0,
                    "return_std": 10.0, "dataset_score": DATASET_SCORES[task], "dataset_transitions": 1000,
                    "steps": 300, "wall_time_s": 1.0, "device": "cpu", "budget": "fast", "eval_episodes": 10,
                    "curve": {"step": CURVE_STEPS, "score": curve},
                }  # fmt: skip
                _write(
                    sweep / f"algorithm={alg},env={task},path={path}" / f"seed={seed}" / "results.json",
                    record,
                )
                cell = values.setdefault((task, label), {"score_final": [], "score_best": []})
                cell["score_final"].append(final)
                cell["score_best"].append(best)
    _write(root / "sweep_gmpo" / "algorithm=gmpo,env=broken,path=gvp" / "seed=0" / "results.json", '{"algo')
    return [root / "sweep_gmpo", root / "sweep_gmpg"], values


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def parse_markdown(text: str) -> dict[str, tuple[list[str], dict[str, list[str]], list[str]]]:
    """metric → (header, task → cells, footnote lines) for each printed table."""
    tables: dict[str, tuple[list[str], dict[str, list[str]], list[str]]] = {}
    metric = ""
    for line in text.splitlines():
        if line.startswith("**score_"):
            metric = line.strip("*").split(" ")[0]
            tables[metric] = ([], {}, [])
        elif line.startswith("|") and not line.startswith("|:"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            header, rows, _ = tables[metric]
            if not header:
                header.extend(cells)
            else:
                rows[cells[0].strip("*")] = cells[1:]
        elif line.startswith("- "):
            tables[metric][2].append(line[2:])
    return tables


def expected_cell(vals: list[float]) -> str:
    std = f"{np.std(vals, ddof=1):.1f}" if len(vals) > 1 else "–"
    return f"{np.mean(vals):.1f} ± {std} (n={len(vals)})"


def test_markdown_equals_numpy_aggregates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps, values = make_sweeps(tmp_path)
    code, out, err = run_cli(capsys, *sweeps)
    assert code == 0
    bad = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(bad) == 1 and "env=broken" in bad[0] and "results.json" in bad[0]
    tables = parse_markdown(out)
    assert list(tables) == ["score_final", "score_best"]
    n_runs = sum(sum(per_task.values()) for per_task in SEEDS.values())
    for metric, (header, rows, notes) in tables.items():
        assert header == HEADER
        assert list(rows) == [*sorted(TASKS), "Average"]
        for task in sorted(TASKS):
            assert rows[task][0] == f"{DATASET_SCORES[task]:.1f}"
            for label, cell in zip(HEADER[2:], rows[task][1:], strict=True):
                vals = values.get((task, label), {}).get(metric)
                assert cell == (expected_cell(vals) if vals else "—"), (metric, task, label)
        assert rows["walker2d-medium-v2"][HEADER.index("GMPG-ICFM") - 1] == "—"
        average = dict(zip(HEADER[1:], rows["Average"], strict=True))
        assert average["Dataset"] == f"{np.mean([DATASET_SCORES[t] for t in sorted(TASKS)]):.1f}"
        vp = [values[(t, "GMPO-VPSDE")][metric] for t in sorted(TASKS)]
        mean_of_means = np.mean([np.mean(v) for v in vp])
        mean_of_stds = np.mean([np.std(v, ddof=1) for v in vp])
        assert average["GMPO-VPSDE"] == f"{mean_of_means:.1f} ± {mean_of_stds:.1f}"
        gvp_means = [np.mean(values[(t, "GMPO-GVP")][metric]) for t in sorted(TASKS)]
        assert average["GMPO-GVP"] == f"{np.mean(gvp_means):.1f} ± –"  # halfcheetah has a single seed
        assert average["GMPG-ICFM"] == "—"
        text = " ".join(notes)
        assert "ddof=1" in text and "over seeds" in text and "mean over tasks of the per-task stds" in text
        assert "D4RL-normalized, 0–100" in text
        assert "GMPG-ICFM has no runs on walker2d-medium-v2" in text
        assert "HalfCheetah-v4, Hopper-v4, Walker2d-v4" in text
        assert f"Runs read: {n_runs} results.json (1 unreadable run record skipped)" in text


def test_csv_carries_full_precision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps, values = make_sweeps(tmp_path)
    code, out, _ = run_cli(capsys, *sweeps, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["metric", "task", "column", "mean", "std", "n"]
    got = {(r["metric"], r["task"], r["column"]): (float(r["mean"]), float(r["std"]), int(r["n"])) for r in rows}
    for metric in ("score_final", "score_best"):
        for task in TASKS:
            for label in HEADER[2:]:
                mean, std, n = got[(metric, task, label)]
                vals = values.get((task, label), {}).get(metric)
                if vals is None:
                    assert math.isnan(mean) and math.isnan(std) and n == 0
                    continue
                assert (mean, n) == (float(np.mean(vals)), len(vals))
                assert math.isnan(std) if n == 1 else std == float(np.std(vals, ddof=1))
            assert got[(metric, task, "Dataset")][0] == pytest.approx(DATASET_SCORES[task], abs=1e-12)
        vp = [values[(t, "GMPO-VPSDE")][metric] for t in sorted(TASKS)]
        mean, std, n = got[(metric, "Average", "GMPO-VPSDE")]
        assert mean == float(np.mean([np.mean(v) for v in vp]))
        assert std == float(np.mean([np.std(v, ddof=1) for v in vp]))
        assert n == len(TASKS)
        assert got[(metric, "Average", "GMPG-ICFM")][2] == 0
    assert len(rows) == 2 * (len(TASKS) + 1) * (len(HEADER) - 1)


def test_latex_uses_booktabs_and_pm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps, values = make_sweeps(tmp_path)
    code, out, _ = run_cli(capsys, *sweeps, "--format", "latex", "--metric", "score_best")
    assert code == 0
    for token in (r"\begin{tabular}{lcccc}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}"):
        assert token in out
    assert "score_final" not in out and r"score\_best" in out and "±" not in out and "—" not in out
    vals = values[("hopper-medium-v2", "GMPO-GVP")]["score_best"]
    assert rf"{np.mean(vals):.1f} $\pm$ {np.std(vals, ddof=1):.1f} (n=2)" in out
    assert "Task & Dataset & GMPO-VPSDE & GMPO-GVP & GMPG-ICFM" in out


def test_plots_and_output_file_are_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweeps, _ = make_sweeps(tmp_path)
    _, stdout_text, _ = run_cli(capsys, *sweeps, "--metric", "score_final")
    out_file, plots = tmp_path / "report" / "table.md", tmp_path / "plots"
    code, out, _ = run_cli(capsys, *sweeps, "--metric", "score_final", "--plots", plots, "--output", out_file)
    assert code == 0 and out == ""
    assert out_file.read_text(encoding="utf-8") == stdout_text
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == sorted(f"{t}.png" for t in TASKS)  # and no temporary files left behind
    for name in pngs:
        data = (plots / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert [p.name for p in out_file.parent.iterdir()] == ["table.md"]


def test_no_results_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty" / "seed=0").mkdir(parents=True)
    code, out, err = run_cli(capsys, tmp_path / "empty")
    assert code == 2 and out == ""
    assert err.strip() == f"error: no results.json found under {tmp_path / 'empty'}"
    code, _, err = run_cli(capsys, tmp_path / "does-not-exist")
    assert code == 2 and err.startswith("error: ")


def test_curves_interpolate_onto_the_common_range() -> None:
    a = Curve(step=(0.0, 100.0, 200.0, 300.0), score=(0.0, 10.0, 20.0, 30.0))
    b = Curve(step=(50.0, 150.0, 250.0), score=(5.0, 25.0, 45.0))
    band = align_curves([a, b])
    assert band is not None and band.n == 2
    np.testing.assert_array_equal(band.step, [50.0, 100.0, 150.0, 200.0, 250.0])
    ya = np.array([5.0, 10.0, 15.0, 20.0, 25.0])
    yb = np.array([5.0, 15.0, 25.0, 35.0, 45.0])
    np.testing.assert_allclose(band.mean, (ya + yb) / 2)
    np.testing.assert_allclose(band.std, np.std([ya, yb], axis=0, ddof=1))


def test_column_order() -> None:
    columns = [("foo", "gvp"), ("gmpg", "icfm"), ("gmpo", "zeta"), ("gmpo", "alpha"), ("gmpo", "vpsde")]
    assert sorted(columns, key=column_sort_key) == [
        ("gmpo", "vpsde"),
        ("gmpo", "alpha"),
        ("gmpo", "zeta"),
        ("gmpg", "icfm"),
        ("foo", "gvp"),
    ]


def test_the_footnote_gives_the_final_evaluation_s_episodes_when_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {"algorithm": "gmpo", "path": "gvp", "env": "hopper-medium-v2", "eval_env": "Hopper-v4", "seed": 0,
              "score_final": 50.0, "score_best": 60.0, "eval_episodes": 10}  # fmt: skip
    _write(tmp_path / "old" / "seed=0" / "results.json", record)
    _write(tmp_path / "new" / "seed=0" / "results.json", {**record, "seed": 1, "final_episodes": 30})
    _, out, _ = run_cli(capsys, tmp_path / "old", "--metric", "score_final")
    assert "10 episodes per evaluation." in out and "in the final one" not in out
    _, out, _ = run_cli(capsys, tmp_path / "new", "--metric", "score_final")
    assert "10 episodes per evaluation, 30 in the final one (score_final)." in out


# ---------------------------------------------------------------------------------------------------------
# JSONL files of run records (docs/results/*.jsonl: one results.json per line, plus bench_quality's fields)


def run_record(alg: str, path: str, task: str, seed: int, final: float, **extra: object) -> dict:
    """A results.json of one run (score_best = score_final + 5)."""
    return {"algorithm": alg, "path": path, "env": task, "eval_env": EVAL_ENVS[task.split("-")[0]],
            "seed": seed, "score_final": final, "score_best": final + 5.0, "budget": "fast", **extra}  # fmt: skip


def write_jsonl(file: Path, lines: list[dict | str]) -> Path:
    _write(file, "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return file


def test_a_jsonl_file_gives_the_tables_of_the_same_runs_as_results_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(7)
    tasks, columns = ("walker2d-medium-v2", "hopper-medium-v2"), (("gmpo", "gvp"), ("iql", "none"))
    records = [
        run_record(alg, path, task, seed, float(rng.uniform(20, 110)), dataset_score=DATASET_SCORES[task])
        for task in tasks
        for alg, path in columns
        for seed in range(3)
    ]
    for r in records:
        _write(tmp_path / "sweep" / f"{r['algorithm']}-{r['env']}" / f"seed={r['seed']}" / "results.json", r)
    jsonl = write_jsonl(tmp_path / "runs.jsonl", [{**r, "run": f"{r['algorithm']}-{r['path']}"} for r in records])
    for options in ((), ("--stats", "--compare", "gmpo-gvp:iql", "--reps", "200")):
        code, from_tree, err = run_cli(capsys, tmp_path / "sweep", *options)
        assert code == 0 and "warning" not in err
        code, from_jsonl, err = run_cli(capsys, jsonl, *options)
        assert code == 0 and "warning" not in err
        assert from_jsonl == from_tree
    scores = {(r["env"], r["algorithm"]): [] for r in records}
    for r in records:
        scores[(r["env"], r["algorithm"])].append(r["score_final"])
    header, rows, notes = parse_markdown(from_jsonl)["score_final"]
    assert header == ["Task", "Dataset", "GMPO-GVP", "IQL"]
    for task in tasks:
        cells = [expected_cell(scores[(task, "gmpo")]), expected_cell(scores[(task, "iql")])]
        assert rows[task] == [f"{DATASET_SCORES[task]:.1f}", *cells]
    assert "Runs read: 12 results.json." in notes
    p_better = np.mean([np.mean([[x > y for y in scores[(t, "iql")]] for x in scores[(t, "gmpo")]]) for t in tasks])
    assert f"| GMPO-GVP | IQL | {p_better:.2f} [" in from_jsonl  # the statistics table, read from the JSONL


def test_an_ablation_in_a_jsonl_file_is_a_column_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = "hopper-medium-v2"
    recipe = [run_record("gmpg", "gvp", task, 0, 50.0), run_record("gmpg", "gvp", task, 1, 60.0)]  # older rows
    recipe.append(run_record("gmpg", "gvp", task, 2, 70.0, ablation="none"))
    beta = [run_record("gmpg", "gvp", task, s, v, ablation="pg-beta-4") for s, v in enumerate((10.0, 20.0, 36.0))]
    bc = [run_record("bc", "gvp", task, s, v, ablation="none") for s, v in enumerate((30.0, 32.0))]
    jsonl = write_jsonl(tmp_path / "bench.jsonl", [beta[0], *recipe, *beta[1:], *bc])
    code, out, err = run_cli(capsys, jsonl, "--metric", "score_final")
    assert code == 0 and "warning" not in err
    header, rows, notes = parse_markdown(out)["score_final"]
    assert header == ["Task", "GMPG-GVP [ablation=none]", "GMPG-GVP [ablation=pg-beta-4]", "BC-GVP"]
    assert rows[task] == [expected_cell([50.0, 60.0, 70.0]), expected_cell([10.0, 20.0, 36.0]), "31.0 ± 1.4 (n=2)"]
    assert rows[task][:2] == ["60.0 ± 10.0 (n=3)", "22.0 ± 13.1 (n=3)"]
    assert any("GMPG-GVP by ablation" in line for line in notes)
    code, out, err = run_cli(capsys, jsonl, "--mixed", "refuse")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"error: {task} GMPG-GVP: runs differ at ablation (none vs pg-beta-4)")


def test_runs_of_one_algorithm_with_different_critics_are_columns_of_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Diffusion-QL with its TD critic and with the in-sample one: never averaged into one cell."""
    task = "hopper-medium-v2"
    td = [run_record("dql", "gvp", task, s, v, critic="td") for s, v in enumerate((30.0, 40.0))]
    iql = [run_record("dql", "gvp", task, s, v, critic="iql") for s, v in enumerate((50.0, 54.0))]
    code, out, err = run_cli(capsys, write_jsonl(tmp_path / "dql.jsonl", [*td, *iql]), "--metric", "score_final")
    assert code == 0 and "warning" not in err
    header, rows, _ = parse_markdown(out)["score_final"]
    assert header == ["Task", "DQL-GVP [critic=iql]", "DQL-GVP [critic=td]"]
    assert rows[task] == ["52.0 ± 2.8 (n=2)", "35.0 ± 7.1 (n=2)"]


def test_unusable_jsonl_lines_are_skipped_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = "walker2d-medium-v2"
    no_score = run_record("gmpo", "gvp", task, 2, 99.0)
    del no_score["score_final"]
    lines = [run_record("gmpo", "gvp", task, 0, 40.0), '{"algorithm": "gmpo", "pa', "",
             no_score, run_record("gmpo", "gvp", task, 1, 44.0), "[1, 2]"]  # fmt: skip
    jsonl = write_jsonl(tmp_path / "results" / "mixed.jsonl", lines)
    code, out, err = run_cli(capsys, jsonl, "--metric", "score_final")
    assert code == 0
    assert err.splitlines() == [
        f"warning: skipping {jsonl}:2: not valid JSON (Unterminated string starting at, column 23)",
        f"warning: skipping {jsonl}:4: missing or non-numeric key 'score_final'",
        f"warning: skipping {jsonl}:6: not a JSON object",
    ]
    header, rows, notes = parse_markdown(out)["score_final"]
    assert header == ["Task", "GMPO-GVP"] and rows[task] == ["42.0 ± 2.8 (n=2)"]
    assert "Runs read: 2 results.json (3 unreadable run records skipped)." in notes
    write_jsonl(jsonl, ["not json"])
    code, out, err = run_cli(capsys, jsonl)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"error: no readable results.json or .jsonl line under {jsonl} (1 unreadable)"


def test_a_root_file_other_than_results_json_or_jsonl_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "runs.txt"
    notes.write_text(json.dumps(run_record("gmpo", "gvp", "hopper-medium-v2", 0, 50.0)) + "\n")
    code, out, err = run_cli(capsys, notes)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"error: {notes} is not a results.json or a .jsonl file (one run's results per line), "
        "nor a directory of results"
    ]
