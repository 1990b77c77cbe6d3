"""genrl-report's rliable statistics equal an independent numpy computation; no mixed cells (issue 12, items 3-4).

The independent computation re-implements rliable's stratified bootstrap with numpy alone: seeded like the
report (numpy's global RNG seeded to --seed before each interval), each resample draws a run index per
(run, task) entry within its task, and the CI is the 2.5/97.5 percentiles of the resampled statistic.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from conftest import compose_config
from genrl.algorithms.base import GENERATIVE_KEYS
from genrl.cli.report import main
from genrl.reporting.configs import IGNORED_KEYS
from genrl.run_folder import RESUMABLE_KEYS

TASKS = ("walker2d-medium-v2", "hopper-medium-v2", "halfcheetah-medium-v2")  # unsorted on purpose
REPS, SEED = 300, 5
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(root: Path, algorithm: str, path: str, env: str, seed: int, score: float, *, tag: str = "",
              config: dict | None = None, **extra) -> None:  # fmt: skip
    run_dir = root / f"{algorithm}-{path}-{env}{tag}" / f"seed={seed}"
    run_dir.mkdir(parents=True)
    record = {
        "algorithm": algorithm, "path": path, "env": env, "eval_env": "Hopper-v4", "seed": seed,
        "score_final": score, "score_best": score + 1.0, "budget": "fast", "recipe": "reference",
        "eval_episodes": 10, "steps": 300, "dataset_transitions": 1000,
        "curve": {"step": [1, 2], "score": [0.0, score]}, **extra,
    }  # fmt: skip
    (run_dir / "results.json").write_text(json.dumps(record))
    if config is not None:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str) -> dict[tuple[str, str, str, str], dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return {(r["metric"], r["task"], r["column"], r["statistic"]): r for r in rows}


# -- the independent computation ---------------------------------------------------------------------------


def iqm(values: np.ndarray) -> float:
    """25% trimmed mean over all entries: drop floor(N/4) from each end of the sorted scores."""
    flat = np.sort(np.asarray(values, dtype=np.float64).ravel())
    cut = int(0.25 * flat.size)
    return float(flat[cut : flat.size - cut].mean())


def optimality_gap(values: np.ndarray, gamma: float = 100.0) -> float:
    return float(gamma - np.minimum(values, gamma).mean())


def improvement(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over tasks of P(a run of X > a run of Y), ties ½."""
    per_task = [
        np.mean((x[:, t, None] > y[None, :, t]) + 0.5 * (x[:, t, None] == y[None, :, t])) for t in range(x.shape[1])
    ]
    return float(np.mean(per_task))


def bootstrap(matrices: list[np.ndarray], stat, reps: int = REPS, seed: int = SEED) -> tuple[float, float]:
    """Stratified bootstrap (runs resampled within each task, each matrix independently), percentile 95% CI."""
    np.random.seed(seed)
    values = []
    for _ in range(reps):
        resampled = []
        for m in matrices:
            runs, tasks = m.shape
            resampled.append(m[np.random.choice(runs, (runs, tasks), replace=True), np.arange(tasks)[None, :]])
        values.append(stat(*resampled))
    low, high = np.percentile(np.asarray(values), [2.5, 97.5], axis=0)
    return low, high


# -- tests ------------------------------------------------------------------------------------------------------


def test_iqm_cis_optimality_gap_and_improvement_equal_an_independent_bootstrap(tmp_path, capsys):
    rng = np.random.default_rng(7)
    tasks = sorted(TASKS)
    scores = {"GMPO-GVP": rng.uniform(30, 110, (5, 3)), "BC-GVP": rng.uniform(20, 90, (4, 3))}
    for label, matrix in scores.items():
        algorithm, path = label.lower().split("-")
        for t, task in enumerate(tasks):
            for seed, score in enumerate(matrix[:, t]):
                write_run(tmp_path, algorithm, path, task, seed, float(score))
    # a column with one seed on one task and two on the others: per-task numbers only, no aggregate
    for seed, task in [(0, tasks[0]), (0, tasks[1]), (1, tasks[1]), (0, tasks[2]), (1, tasks[2])]:
        write_run(tmp_path, "gmpg", "icfm", task, seed, float(rng.uniform(0, 100)))

    args = ["--metric", "score_final", "--reps", REPS, "--seed", SEED, "--compare", "gmpo-gvp:bc"]
    code, out, err = run_cli(capsys, tmp_path, "--format", "csv", *args)
    assert code == 0, err
    rows = csv_rows(out)
    assert list(next(iter(rows.values()))) == ["metric", "task", "column", "statistic", "estimate", "ci_low",
                                               "ci_high", "n"]  # fmt: skip

    def got(task, column, statistic):
        r = rows[("score_final", task, column, statistic)]
        return float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"]), int(r["n"])

    for label, matrix in scores.items():
        for t, task in enumerate(tasks):
            values = matrix[:, t : t + 1]
            low, high = bootstrap([values], iqm)
            assert got(task, label, "iqm") == pytest.approx((iqm(values), low, high, len(values)), rel=1e-12)
            assert got(task, label, "mean")[0] == pytest.approx(values.mean(), rel=1e-12)
        (iqm_low, gap_low), (iqm_high, gap_high) = bootstrap([matrix], lambda m: (iqm(m), optimality_gap(m)))
        assert got("All tasks", label, "iqm") == pytest.approx((iqm(matrix), iqm_low, iqm_high, matrix.size))
        assert got("All tasks", label, "optimality_gap") == pytest.approx(
            (optimality_gap(matrix), gap_low, gap_high, matrix.size)
        )
    x, y = scores["GMPO-GVP"], scores["BC-GVP"]
    low, high = bootstrap([x, y], improvement)
    assert got("All tasks", "GMPO-GVP > BC-GVP", "probability_of_improvement") == pytest.approx(
        (improvement(x, y), low, high, 3)
    )
    estimate, low, high, _ = got("All tasks", "GMPG-ICFM", "iqm")
    assert np.isnan(estimate) and np.isnan(low)  # unequal runs per task: rliable's matrix does not exist
    assert np.isnan(got(tasks[0], "GMPG-ICFM", "iqm")[1])  # a single seed has no CI

    # the Markdown carries the same numbers, and says why GMPG-ICFM has no aggregate
    code, out, _ = run_cli(capsys, tmp_path, *args)
    assert code == 0
    matrix = scores["GMPO-GVP"]
    lows, highs = bootstrap([matrix], lambda m: (iqm(m), optimality_gap(m)))
    assert f" {iqm(matrix):.1f} [{lows[0]:.1f}, {highs[0]:.1f}] |" in out
    assert f" {optimality_gap(matrix):.1f} [{lows[1]:.1f}, {highs[1]:.1f}] |" in out
    assert "**IQM (all tasks)**" in out and "**Optimality gap (γ=100)**" in out
    assert f"| GMPO-GVP | BC-GVP | {improvement(x, y):.2f} [" in out
    assert "GMPG-ICFM has no aggregate: different numbers of runs per task" in out
    code, out, _ = run_cli(capsys, tmp_path, "--format", "latex", *args)
    assert code == 0 and out.count(r"\begin{tabular}") == 3  # mean ± std, IQM, probability of improvement
    assert "IQM (all tasks) &" in out and r"$\pm$" in out and "±" not in out


def test_stats_write_a_performance_profile_next_to_the_curves(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for algorithm in ("gmpo", "bc"):
        for task in TASKS:
            for seed in range(3):
                write_run(tmp_path / "runs", algorithm, "gvp", task, seed, float(rng.uniform(0, 100)))
    plots = tmp_path / "plots"
    code, _, err = run_cli(capsys, tmp_path / "runs", "--stats", "--reps", 50, "--plots", plots)
    assert code == 0, err
    names = sorted(p.name for p in plots.iterdir())
    assert names == sorted([*(f"{t}.png" for t in TASKS), "performance_profile_score_final.png",
                            "performance_profile_score_best.png"])  # fmt: skip
    assert (plots / "performance_profile_score_final.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_names_an_unknown_column_in_one_line(tmp_path, capsys):
    write_run(tmp_path, "gmpo", "gvp", "hopper-medium-v2", 0, 50.0)
    code, out, err = run_cli(capsys, tmp_path, "--compare", "gmpo-gvp:iql", "--reps", 10)
    assert code == 2 and out == ""
    assert err.strip() == "error: --compare: no column 'iql' (columns: GMPO-GVP)"


def resolved(overrides: list[str]) -> dict:
    return OmegaConf.to_container(compose_config(overrides), resolve=True)


def test_a_sweep_with_two_betas_yields_two_rows_not_one(tmp_path, capsys):
    for beta, scores in ((3, (10.0, 20.0)), (10, (70.0, 90.0))):
        for seed, score in enumerate(scores):
            config = resolved(["env=hopper-medium-v2", f"algorithm.beta={beta}", f"seed={seed}"])
            write_run(tmp_path, "gmpo", "gvp", "hopper-medium-v2", seed, score, tag=f"-beta{beta}", config=config)
    code, out, err = run_cli(capsys, tmp_path, "--format", "csv", "--metric", "score_final")
    assert code == 0 and "warning" not in err  # the repeated seeds are in different cells
    rows = list(csv.DictReader(io.StringIO(out)))
    cells = {r["column"]: (float(r["mean"]), int(r["n"])) for r in rows if r["task"] == "hopper-medium-v2"}
    assert cells == {"GMPO-GVP [algorithm.beta=3.0]": (15.0, 2), "GMPO-GVP [algorithm.beta=10.0]": (80.0, 2)}
    code, out, _ = run_cli(capsys, tmp_path, "--metric", "score_final")
    assert "A cell averages only runs whose configuration (config.yaml) is identical apart from the seed" in out
    assert "GMPO-GVP by algorithm.beta" in out
    # or the report refuses, naming the key
    code, out, err = run_cli(capsys, tmp_path, "--mixed", "refuse")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("error: hopper-medium-v2 GMPO-GVP: runs differ at algorithm.beta (3.0 vs 10.0)")


def test_other_differences_split_too_and_are_labelled_by_file_name(tmp_path, capsys):
    for seed, (budget, file) in enumerate([("fast", "/data/a/hopper.hdf5"), ("fast", "/data/b/other.hdf5")] * 2):
        config = resolved(["env=hopper-medium-v2", f"budget={budget}", f"dataset.path={file}", f"seed={seed // 2}"])
        write_run(tmp_path, "gmpo", "gvp", "hopper-medium-v2", seed // 2, 50.0 + seed, tag=f"-{seed}",
                  config=config)  # fmt: skip
    code, out, _ = run_cli(capsys, tmp_path, "--format", "csv", "--metric", "score_final")
    assert code == 0
    columns = sorted(r["column"] for r in csv.DictReader(io.StringIO(out)) if r["task"] == "hopper-medium-v2")
    assert columns == ["GMPO-GVP [dataset.path=hopper.hdf5]", "GMPO-GVP [dataset.path=other.hdf5]"]


def test_runs_of_one_configuration_share_a_cell_whatever_their_logging_or_ignored_path(tmp_path, capsys):
    """IQL ignores ``path``: runs launched with path=gvp and path=vpsde are one configuration (results say
    path "none" and list the generative keys as unused); logger/device/checkpoint never split a cell."""
    for seed, (path, logger) in enumerate([("gvp", "wandb"), ("vpsde", "none"), ("icfm", "none")]):
        config = resolved(["algorithm=iql", f"path={path}", f"logger={logger}", f"seed={seed}", "device=cpu"])
        write_run(tmp_path, "iql", "none", "demo", seed, 40.0 + seed, tag=path, config=config,
                  unused_config=list(GENERATIVE_KEYS))  # fmt: skip
    code, out, err = run_cli(capsys, tmp_path, "--format", "csv", "--metric", "score_final", "--mixed", "refuse")
    assert code == 0, err
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["task"] == "demo"]
    assert [(r["column"], r["n"], float(r["mean"])) for r in rows] == [("IQL", "3", 41.0)]


def test_the_report_ignores_the_keys_a_resumed_run_may_change():
    assert set(IGNORED_KEYS) == {"seed", *RESUMABLE_KEYS}
