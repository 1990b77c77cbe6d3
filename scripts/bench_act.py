"""Act latency for algorithm × path × K, measured as every run's results.json measures it (genrl.acting.cost).

    # one thread, D4RL locomotion sizes, budget=minutes' networks, the default (paper) and K = 1 / 16 acting:
    OMP_NUM_THREADS=1 python scripts/bench_act.py --algorithms gmpo fql srpo --paths gvp icfm vpsde --candidates 1 16

Each cell builds the algorithm's untrained acting policy from the composed config (``conf/``: ``algorithm=A path=P
sampling.candidates=K`` plus ``--overrides``), with random observations of ``--obs-dim`` and a [−1, 1] action box of
``--action-dim``, and prints one Markdown row: calls per action, median ms per action at batch 1 and actions/s at
batch 1024 (weights do not change the cost, so no training is needed). ``--json FILE`` also writes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(algorithm: str, path: str, candidates: int, args: argparse.Namespace) -> dict:
    import torch
    from hydra import compose, initialize_config_dir

    from genrl.acting.cost import measure_act_cost, networks_of
    from genrl.acting.loading import build_acting_policy, make_sampler
    from genrl.building import build_algorithm
    from genrl.config import plain

    overrides = [f"algorithm={algorithm}", f"path={path}", *args.overrides, f"sampling.candidates={candidates}"]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base=None):
        cfg = plain(compose("config", overrides=overrides))
    device = torch.device(args.device)
    box = ([-1.0] * args.action_dim, [1.0] * args.action_dim)
    algo = build_algorithm(cfg, args.obs_dim, args.action_dim, device, box)
    act = build_acting_policy(cfg, make_sampler(cfg, algo.acting_policy), algo.critic, None, box, device)
    critic = algo.critic if candidates > 1 else None
    cost = measure_act_cost(act, args.obs_dim, device, networks_of(algo.acting_policy, critic), args.repeats)
    return {"algorithm": algorithm, "path": path, "candidates": candidates, "device": str(device), **cost}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algorithms", nargs="+", default=["gmpo", "fql"])
    parser.add_argument("--paths", nargs="+", default=["gvp"])
    parser.add_argument("--candidates", nargs="+", type=int, default=[1], help="K values (sampling.candidates)")
    parser.add_argument("--overrides", nargs="*", default=["budget=minutes"], help="further config overrides")
    parser.add_argument("--obs-dim", type=int, default=17)
    parser.add_argument("--action-dim", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per measurement (at most 2 s)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    print("| algorithm | path | K | calls/action | ms/action (batch 1) | actions/s (batch 1024) |")
    print("|---|---|---:|---:|---:|---:|")
    for algorithm in args.algorithms:
        for path in args.paths:
            for k in args.candidates:
                row = measure(algorithm, path, k, args)
                rows.append(row)
                print(f"| {algorithm} | {path} | {k} | {row['calls_per_action']} | {row['act_ms_batch1']:.3f} "
                      f"| {row['actions_per_s_batch1024']:.0f} |", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
