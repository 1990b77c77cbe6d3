"""Policy-quality benchmark: algorithm × path × seed on one or more datasets, mean ± std over seeds.

    # recipe=fast on both hopper-v5 datasets, 3 seeds, two one-thread runs side by side (2 cores):
    python scripts/bench_quality.py --recipe fast --seeds 0 1 2 --jobs 2 \
        --datasets ../shared/datasets/hopper-v5-medium.hdf5 ../shared/datasets/hopper-v5-medium-replay.hdf5 \
        --runs gmpo-vpsde gmpo-gvp gmpo-icfm gmpg-gvp bc-gvp
    # the ablation: each ingredient of the recipe off in turn, one path
    python scripts/bench_quality.py --recipe fast --seeds 0 1 2 --jobs 2 --datasets ... --runs gmpo-gvp \
        --ablations none selection full-noise reference-polyak no-normalization no-ema reference-weights

Each run is a normal ``python train.py ...`` (one thread) in <out>/<env>/<run>/<ablation>/seed=<n>/; rerunning
the script resumes unfinished runs and reuses finished ones. The dataset's env config is
``conf/env/<file stem>.yaml``. Prints a Markdown table (one row per dataset × run × ablation) and writes every
run's results to <out>/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Each ablation switches one ingredient of recipe=fast off (or to the reference's choice).
ABLATIONS = {
    "none": [],
    "no-selection": ["sampling.candidates=1"],
    "selection": ["sampling.candidates=16"],  # for GMPO, whose recipe acts with one action per state
    "full-noise": ["sampling.noise_scale=1.0"],
    "reference-polyak": ["critic.polyak=0.005"],
    "no-normalization": ["normalize_observations=false"],
    "no-ema": ["algorithm.ema_decay=null"],
    "reference-weights": ["algorithm.advantage_normalization=none", "algorithm.beta=16", "algorithm.max_weight=1000"],
    "reference-lr": ["algorithm.optimizer.lr=1e-4"],
    "published-weights": ["algorithm.advantage_normalization=none", "algorithm.beta=3.0"],  # IQL's exp(3·A)
    # the advantage unit chosen from the data: exp(A/T) keeps this effective fraction of the transitions
    "ess-0.5": ["algorithm.advantage_normalization=ess", "algorithm.target_ess=0.5"],
    "ess-0.1": ["algorithm.advantage_normalization=ess", "algorithm.target_ess=0.1"],
    "ess-0.03": ["algorithm.advantage_normalization=ess", "algorithm.target_ess=0.03"],
    "discount-0.995": ["critic.discount=0.995"],  # a 200-step horizon instead of 100 (walker2d's falls)
    "critic-40k": ["budget.phase_steps.critic=40000"],  # V still rising at 20k on halfcheetah
    # expectile τ of V: 0.7 is optimistic (V(s') assumes the better actions are taken); 0.5 is the data's own value
    "expectile-0.5": ["critic.expectile=0.5"],
    "expectile-0.9": ["critic.expectile=0.9"],
    "policy-40k": ["budget.phase_steps.policy=40000"],  # does a longer policy phase help or hurt
    "wide-net": ["net.hidden_sizes=[256,256,256]"],  # the policy backbone for 6-D actions
    # GMPG's policy-gradient phase (40 iterations at the task's lr under recipe=fast): larger steps, stronger Q
    "pg-lr-1e-3": ["algorithm.optimizer.lr=1e-3"],
    "pg-beta-4": ["algorithm.beta=4"],
    # SRPO: the regulariser alone (π → a mode of μ) and a weaker pull of Q
    "beta-0": ["algorithm.beta=0"],
    "beta-0.02": ["algorithm.beta=0.02"],
    "beta-0.01": ["algorithm.beta=0.01"],
    "beta-0.1": ["algorithm.beta=0.1"],
    # SRPO's regulariser gradient with the control variate b = 1 (ε̂ − ε: the same expectation, less variance)
    "noise-baseline": ["algorithm.noise_baseline=true"],
    # QGPO's β in units of Q̄'s spread over μ's support (σ_Q ≈ 2.75 on hopper and walker2d: 0.8 ≈ the file's 0.3 Q there)
    "q-support-std-0.8": ["algorithm.q_normalization=support_std", "algorithm.beta=0.8"],
    # SfBC/QGPO's in-support critic: at α = 0 one support action is an unbiased backup at ~half the cost per step
    "support-1-critic-20k": ["critic.support_actions=1", "budget.phase_steps.critic=20000"],
    "support-4-critic-5k": ["critic.support_actions=4", "budget.phase_steps.critic=5000"],  # SfBC's first fast recipe
    "pg-long": ["budget.phase_steps.policy=160", "algorithm.optimizer.lr=1e-3"],
    # FQL's distillation weight α against −Q/mean|Q| (paper's 10; TD3+BC's 2.5·Q/mean|Q| + MSE is α = 0.4)
    "alpha-1": ["algorithm.alpha=1"],
    "alpha-0.3": ["algorithm.alpha=0.3"],
    "alpha-100": ["algorithm.alpha=100"],
    "alpha-1000": ["algorithm.alpha=1000"],
    "pairs-1m": ["algorithm.teacher_pairs=1000000"],  # FQL: the teacher solved once for 1M (state, z) pairs
    # FQL's Q term in units of Q's spread over behaviour actions (invariant to Q's offset) instead of mean|Q|
    "q-spread": ["algorithm.q_scale=action_spread"],
    # α as a dual holding the distillation at ε·σ_b² (the behaviour's own action variance at a state)
    "dual-0.2": ["algorithm.q_scale=action_spread", "algorithm.target_distance=0.2"],
    "dual-0.5": ["algorithm.q_scale=action_spread", "algorithm.target_distance=0.5"],
    "dual-1.5": ["algorithm.q_scale=action_spread", "algorithm.target_distance=1.5"],
    # the policy phase's learning curve at the final evaluation's precision: 10 evaluations of 30 episodes
    "dense-evals": ["budget.evaluations=10", "eval.episodes=30", "checkpoint.keep_evaluations=true"],
}


#: Keys that only act from the policy phase on (of every algorithm: GMPG's behaviour phase precedes its critic): a
#: run differing from another only in these can start from the other's critic (``--fork-critic``) and end exactly
#: as if it had trained that critic itself.
POLICY_PHASE_KEYS = (
    "algorithm.optimizer.",
    "algorithm.beta",
    "algorithm.advantage_normalization",
    "algorithm.target_ess",
    "algorithm.max_weight",
    "algorithm.alpha",
    "algorithm.q_scale",
    "algorithm.target_distance",
    "algorithm.teacher_pairs",
    "algorithm.noise_baseline",
    "algorithm.q_normalization",
    "sampling.",
    "eval.",
    "checkpoint.",
    "logger.",
    "budget.phase_steps.policy",
    "budget.evaluations",
)
#: Keys of the critic's training (not its networks' shapes): a run differing from another only in these and
#: :data:`POLICY_PHASE_KEYS` can start from the other's behaviour model where the behaviour phase came first.
CRITIC_PHASE_KEYS = (
    "critic.support_actions",
    "critic.alpha",
    "critic.polyak",
    "critic.discount",
    "critic.expectile",
    "budget.phase_steps.critic",
)


def train(dataset: Path, run: str, ablation: str, seed: int, args: argparse.Namespace) -> dict:
    algorithm, path = run.split("-")
    env = dataset.stem
    run_dir = (args.out / env / run / ablation / f"seed={seed}").resolve()
    if not (run_dir / "results.json").exists():
        overrides = [
            f"algorithm={algorithm}", f"path={path}", f"env={env}", f"dataset.path={dataset.resolve()}",
            f"recipe={args.recipe}", f"seed={seed}", "logger=none", "logger.progress=false",
            "checkpoint.keep_phase_ends=true", *ABLATIONS[ablation], *args.overrides,
        ]  # fmt: skip
        if args.budget:
            overrides.insert(4, f"budget={args.budget}")
        if args.fork_critic and not (run_dir / "checkpoint.pt").exists():
            fork_critic(args.out / env / run, run_dir, overrides)
        command = [sys.executable, str(REPO / "train.py"), *overrides, f"hydra.run.dir='{run_dir}'"]
        print("+", " ".join(command[1:]), flush=True)
        threads = str(args.threads)  # and the genrl of this checkout, even where another one is installed
        env_vars = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        env_vars["PYTHONPATH"] = str(REPO / "src")
        proc = subprocess.run(command, cwd=REPO, env=env_vars, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{run} {ablation} seed {seed} on {env} failed:\n{proc.stderr[-2000:]}")
    result = json.loads((run_dir / "results.json").read_text())
    result.update(dataset=env, run=run, ablation=ablation)
    print(f"  {env} {run} {ablation} seed={seed}: score_final {result['score_final']:.1f} "
          f"(best {result['score_best']:.1f}, {result['wall_time_s'] / 60:.1f} min)", flush=True)  # fmt: skip
    return result


def fork_critic(runs: Path, run_dir: Path, overrides: list[str]) -> None:
    """Start ``run_dir`` from the critic of a finished sibling run (another ablation, same run and seed) whose
    configuration differs only in :data:`POLICY_PHASE_KEYS`: its ``checkpoint.critic.pt`` (written at the end of
    the critic phase, the policy still at its initialisation) with this run's configuration, and its log so far.
    Or from a sibling's ``checkpoint.behaviour.pt`` (the end of the behaviour phase), where the config may also
    differ in :data:`CRITIC_PHASE_KEYS` if no critic step came before it (SfBC, QGPO, SRPO, FQL, GMPG clone μ
    first). The donor that ended latest in its log is tried first (FQL with ``critic=iql`` trains the critic, then
    the behaviour model). train.py then resumes at the next phase: on CPU the same numbers as training that critic (or
    behaviour model) again."""
    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    sys.path.insert(0, str(REPO / "src"))
    from genrl.config import plain
    from genrl.run_folder import differing_keys

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        config = OmegaConf.to_container(plain(compose("config", overrides=overrides)), resolve=True)
    seed_dir = run_dir.name
    states = {donor: torch.load(donor, map_location="cpu", weights_only=False) for donor in sorted(
        [*runs.glob(f"*/{seed_dir}/checkpoint.critic.pt"), *runs.glob(f"*/{seed_dir}/checkpoint.behaviour.pt")])}
    for donor, state in sorted(states.items(), key=lambda item: -item[1]["log_offset"]):  # the latest phase end first
        differing = differing_keys(config, state["metadata"]["config"])
        log = (donor.parent / "metrics.jsonl").read_bytes()[: state["log_offset"]]
        critic_trained = donor.name == "checkpoint.critic.pt" or b'"phase": "critic"' in log
        allowed = POLICY_PHASE_KEYS if critic_trained else POLICY_PHASE_KEYS + CRITIC_PHASE_KEYS
        if all(k.startswith(allowed) for k in differing) and "algorithm._target_" not in differing:
            state["metadata"]["config"] = config
            set_learning_rates(state["algorithm"], config["algorithm"])
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "metrics.jsonl").write_bytes(log)
            torch.save(state, run_dir / "checkpoint.pt")
            print(f"  {run_dir}: starts from {donor}", flush=True)
            return


def set_learning_rates(weights: dict, algorithm: dict) -> None:
    """The donor's optimiser states carry the donor's learning rates (``param_groups``), which loading them would
    restore: give each optimiser that this run configures (``algorithm.<name>.lr``) this run's rate."""
    for name, node in algorithm.items():
        if isinstance(node, dict) and "lr" in node and isinstance(weights.get(name), dict):
            for group in weights[name].get("param_groups", []):
                group["lr"] = node["lr"]


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(results: list[dict]) -> str:
    """One row per dataset × run × ablation: mean ± std over seeds (sample std, n − 1)."""
    lines = [
        "| dataset | run | ablation | seeds | score_final | score_best | dataset score | final episodes "
        "| wall time per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"], r["run"], r["ablation"]), []).append(r)
    for (dataset, run, ablation), rs in groups.items():
        minutes = [r["wall_time_s"] / 60 for r in rs]
        lines.append(
            f"| {dataset} | {run.upper()} | {ablation} | {len(rs)} | {mean_std([r['score_final'] for r in rs])} "
            f"| {mean_std([r['score_best'] for r in rs])} | {rs[0]['dataset_score']:.1f} | {rs[0]['final_episodes']} "
            f"| {mean_std(minutes)} min |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, nargs="+", required=True)
    parser.add_argument("--runs", nargs="+", default=["gmpo-gvp"], help="<algorithm>-<path> pairs")
    parser.add_argument("--ablations", nargs="+", default=["none"], choices=sorted(ABLATIONS))
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--budget", default=None, help="default: the recipe's own budget")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--out", type=Path, default=REPO / "bench_out" / "quality")
    parser.add_argument("--fork-critic", action="store_true",
                        help="start each run from the critic of a finished sibling ablation where only policy-phase "
                             "keys differ (same numbers on CPU, the critic's minutes saved)")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args(argv)
    jobs = [(d, r, a, s) for d in args.datasets for r in args.runs for a in args.ablations for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: train(*job, args), jobs))
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.jsonl", "a") as handle:
        for r in results:
            handle.write(json.dumps(r) + "\n")
    print(table(results))
    print(f"scores: normalized 0-100; ± is the std over seeds; machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {args.jobs} run(s) at a time, {args.threads} thread(s) each")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
