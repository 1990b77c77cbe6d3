"""Paired ablation of acting settings: re-evaluate trained runs' final checkpoints under several sampling settings.

    # every finished run below bench_out/quality, K = 16 argmax (the run's own) vs K = 1, 30 episodes each:
    python scripts/bench_selection.py bench_out/quality --settings candidates=16 candidates=1 --jobs 2

Each (checkpoint, setting) is one ``genrl-eval RUN_DIR --episodes N ...`` (one thread): the same trained policy
and the same episode seeds (the run's final-evaluation seeds) under every setting, so the difference between
two settings is the acting rule alone, not training noise. Prints one Markdown row per (dataset, run, ablation,
setting): mean ± std over seeds of the per-run mean score, the per-seed scores and the mean paired difference
to the first setting; writes every evaluation's summary to <out>/selection.jsonl (resumable: finished
evaluations are read back, not rerun).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPTIONS = {"candidates": "--candidates", "noise_scale": "--noise-scale", "steps": "--sampling-steps",
           "selection": "--selection", "temperature": "--temperature"}  # fmt: skip


def parse_setting(text: str) -> list[str]:
    """'candidates=1,noise_scale=1.0' → genrl-eval options."""
    options = []
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in OPTIONS or not value:
            raise SystemExit(f"--settings {text!r}: expected key=value with key in {sorted(OPTIONS)}")
        options += [OPTIONS[key], value]
    return options


def evaluate(run_dir: Path, setting: str, args: argparse.Namespace) -> dict:
    out = run_dir / f"reeval-{setting.replace(',', '_').replace('=', '')}-{args.episodes}.json"
    if not out.exists():
        command = [sys.executable, "-m", "genrl.cli.eval", str(run_dir), "--episodes", str(args.episodes),
                   "--output", str(out), *parse_setting(setting)]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{run_dir} {setting}: {proc.stderr.strip()[-1000:]}")
    summary = json.loads(out.read_text())
    seed_dir = run_dir.name  # seed=<n>
    ablation, run, dataset = run_dir.parent.name, run_dir.parent.parent.name, run_dir.parents[2].name
    print(f"  {dataset} {run} {ablation} {seed_dir} {setting}: {summary['score']:.1f}", flush=True)
    return {"dataset": dataset, "run": run, "ablation": ablation, "seed": seed_dir, "setting": setting, **summary}


def table(rows: list[dict], settings: list[str]) -> str:
    lines = ["| dataset | run | ablation | setting | seeds | score, mean ± std over seeds | per seed "
             f"| paired difference to {settings[0]} |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    groups: dict[tuple, dict[str, dict[str, float]]] = {}
    for row in rows:
        key = (row["dataset"], row["run"], row["ablation"])
        groups.setdefault(key, {}).setdefault(row["setting"], {})[row["seed"]] = row["score"]
    for (dataset, run, ablation), by_setting in sorted(groups.items()):
        base = by_setting.get(settings[0], {})
        for setting in settings:
            scores = by_setting.get(setting, {})
            values = [scores[s] for s in sorted(scores)]
            if not values:
                continue
            spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            diffs = [scores[s] - base[s] for s in sorted(scores) if s in base]
            diff = "—" if setting == settings[0] or not diffs else f"{statistics.mean(diffs):+.1f}"
            per_seed = " / ".join(f"{v:.1f}" for v in values)
            lines.append(
                f"| {dataset} | {run} | {ablation} | {setting} | {len(values)} | "
                f"{statistics.mean(values):.1f}{spread} | {per_seed} | {diff} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", type=Path, nargs="+", help="folders searched for finished runs (results.json)")
    parser.add_argument("--settings", nargs="+", default=["candidates=16", "candidates=1"])
    parser.add_argument("--runs", nargs="*", help="only these <algorithm>-<path> folders")
    parser.add_argument("--ablations", nargs="*", default=["none"])
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "bench_out" / "selection")
    args = parser.parse_args()
    run_dirs = sorted(p.parent for root in args.roots for p in root.rglob("results.json") if "seed=" in p.parent.name)
    run_dirs = [
        d for d in run_dirs if d.parent.name in args.ablations and (not args.runs or d.parent.parent.name in args.runs)
    ]
    jobs = [(d, s) for d in run_dirs for s in args.settings]
    print(f"{len(run_dirs)} runs × {len(args.settings)} settings, {args.episodes} episodes each", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: evaluate(*job, args), jobs))
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "selection.jsonl", "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    print(table(rows, args.settings))


if __name__ == "__main__":
    main()
