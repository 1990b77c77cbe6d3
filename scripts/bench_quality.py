"""Policy-quality benchmark: train every algorithm × path on one dataset and print scores next to the data's.

    python scripts/bench_quality.py --dataset ../shared/datasets/hopper-v5-medium.hdf5 --env hopper-v5-medium \
        --algorithms gmpo --budget fast                       # on a GPU
    # on a CPU (docs/benchmarks.md says why each override is there):
    python scripts/bench_quality.py --dataset ... --algorithms gmpo --budget cpu -- \
        budget.phase_steps.critic=60000 algorithm.optimizer.lr=1e-3
    python scripts/bench_quality.py --dataset ... --algorithms gmpg --budget cpu -- \
        budget.phase_steps.critic=60000 algorithm.behaviour_optimizer.lr=1e-3 budget.phase_steps.policy=100
    # (keep GMPG's policy-gradient lr at the task's: 10x it made π exploit Q within 20 iterations, see the docs)

Each run is a normal `python train.py ...` in <out>/<algorithm>-<path>/ (rerunning resumes or reuses it). The table
(Markdown) and all results (JSON, last line) are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(algorithm: str, path: str, args: argparse.Namespace) -> dict:
    run_dir = args.out / f"{algorithm}-{path}"
    command = [
        sys.executable, str(REPO / "train.py"), f"algorithm={algorithm}", f"path={path}", f"env={args.env}",
        f"dataset.path={args.dataset.resolve()}", f"budget={args.budget}", f"seed={args.seed}", "logger=none",
        f"hydra.run.dir={run_dir.resolve()}", *args.overrides,
    ]  # fmt: skip
    print("+", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    return json.loads((run_dir / "results.json").read_text())


def table(results: list[dict]) -> str:
    lines = [
        "| algorithm-path | score_final | score_best | dataset score | steps | wall time | device |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['algorithm'].upper()}-{r['path'].upper()} | {r['score_final']:.1f} ± {r['score_final_std']:.1f} "
            f"| {r['score_best']:.1f} | {r['dataset_score']:.1f} | {r['steps']} | {r['wall_time_s'] / 60:.1f} min "
            f"| {r['device']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--env", default="hopper-v5-medium")
    parser.add_argument("--algorithms", nargs="+", default=["gmpo", "gmpg"])
    parser.add_argument("--paths", nargs="+", default=["vpsde", "gvp", "icfm"])
    parser.add_argument("--budget", default="fast")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "bench_out" / "quality")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args(argv)
    results = [run(a, p, args) for a in args.algorithms for p in args.paths]
    print(table(results))
    print("± is the std over the final evaluation's episodes; scores are D4RL-normalized (0-100).")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
