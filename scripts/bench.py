"""Speed benchmark of genrl's phases and evaluation, printing a table and (with --json) one JSON object last.

    python scripts/bench.py --device cpu --quick --json     # seconds on 2 CPU cores (well under 2 minutes)
    python scripts/bench.py --device cuda                   # reference sizes (B = 4096 / 40960, reference network)
    python scripts/bench.py --device cuda --parts critic gmpo bc actions eval   # all but GMPG's policy gradient
    python scripts/bench.py --device cuda --tf32 --compile --fused --profile   # the fast path, and where time goes

Measures gradient steps/s of each phase (IQL critic, GMPO policy, GMPG behaviour cloning, GMPG policy gradient
with the exact and the reference gradient) on synthetic hopper-sized data, policy actions/s and evaluation
env-steps/s with the evaluation sampler (31 Euler steps; HalfCheetah-v5, which never ends an episode early, so
every episode runs the full time limit), peak memory, and the achieved FLOP rate of the GMPO policy step against
this device's measured matmul peak.

Sizes: ``reference`` (the default: the reference's batches, grid and evaluation), ``quick`` (``--quick``: B = 256
for critic, GMPO and behaviour cloning, a tiny GMPG policy gradient (B = 32, K = 4, one timed iteration) and
10 evaluation episodes of 30 steps; well under 2 minutes on 2 CPU cores) and ``tiny`` (seconds: the same code path,
used by ``scripts/device_check.sh --tiny``); on a CPU these two use one thread unless ``--threads`` says
otherwise. ``--parts`` measures only the named parts; the GMPG policy gradient at the reference B = 40960,
K = 999 takes minutes per iteration even on a GPU: ``scripts/device_check.sh`` measures it with
``scripts/bench_gmpg_memory.py`` instead.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genrl.algorithms import GMPG, GMPO
from genrl.critics import IQLCritic
from genrl.data import Transitions
from genrl.evaluation import Evaluator, Task
from genrl.models import GenerativeModel
from genrl.networks import DoubleQ, TemporalSpatialResidualNet, ValueNet
from genrl.paths import AffinePath, GVPSchedule
from genrl.training.acceleration import autocast, compile_modules, configure_matmul, make_policy_sampler

HOPPER = {"obs": 11, "act": 3}
#: Evaluation runs on HalfCheetah, which never terminates early: every episode is the full time limit.
CHEETAH = {"obs": 17, "act": 6, "env": "HalfCheetah-v5", "ref": (-280.178953, 12135.0)}


@dataclass
class Sizes:
    net: tuple[int, ...]
    batch: int  # critic, GMPO policy, GMPG behaviour cloning
    pg_batch: int  # GMPG policy gradient
    pg_steps: int  # Euler steps of the GMPG gradient path
    eval_episodes: int
    eval_steps: int  # env steps per episode (time limit)
    repeats: int
    pg_repeats: int | None = None  # timed GMPG policy-gradient iterations (None: max(2, repeats // 4))


REFERENCE = Sizes((512, 256, 128), 4096, 40960, 999, 10, 1000, 20)
QUICK = Sizes((512, 256, 128), 256, 32, 4, 10, 30, 3, pg_repeats=1)
TINY = Sizes((512, 256, 128), 32, 16, 4, 2, 20, 2, pg_repeats=1)
SIZES = {"reference": REFERENCE, "quick": QUICK, "tiny": TINY}
PARTS = ("critic", "gmpo", "bc", "pg", "actions", "eval")


def linear_flops(module: nn.Module) -> int:
    """Forward FLOPs per sample of the Linear layers (2·in·out each; every layer runs once per forward)."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def synthetic_data(n: int, device: torch.device) -> Transitions:
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(n, HOPPER["obs"], generator=g)
    return Transitions(
        obs=obs, action=torch.rand(n, HOPPER["act"], generator=g) * 2 - 1, reward=torch.randn(n, generator=g),
        next_obs=obs + 0.01 * torch.randn(n, HOPPER["obs"], generator=g), done=torch.zeros(n),
        episode_returns=np.zeros(0),
    ).to(device)  # fmt: skip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Calls per second: the median of ``repeats`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return 1.0 / statistics.median(times)


def profile_table(fn: Callable[[], object], label: str, device: torch.device, precision, calls: int = 5) -> str:
    """The operators that take the most time over ``calls`` calls of ``fn`` (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    fn()
    with profile(activities=activities) as prof, precision():
        for _ in range(calls):
            fn()
        sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return f"== profile: {label} ({calls} calls)\n" + prof.key_averages().table(sort_by=key, row_limit=12)


def matmul_peak_tflops(device: torch.device) -> float:
    """Measured fp32 (TF32 if enabled) matmul rate, the ceiling for these MLP-shaped networks."""
    n = 4096 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return rate(lambda: a @ b, device, 10) * 2 * n**3 / 1e12


def policy_model(sizes: Sizes, device: torch.device, dims: dict = HOPPER) -> GenerativeModel:
    net = TemporalSpatialResidualNet(dims["act"], dims["obs"], sizes.net)
    return GenerativeModel(net, AffinePath(GVPSchedule())).to(device)


def build(sizes: Sizes, device: torch.device, data: Transitions | None = None):
    """GMPO and GMPG at ``sizes``; GMPG's policy starts from its behaviour model, fitted to ``data`` (synthetic
    hopper-sized transitions unless given)."""

    def model() -> GenerativeModel:
        return policy_model(sizes, device)

    def critic() -> IQLCritic:
        q, v = DoubleQ(HOPPER["obs"], HOPPER["act"]).to(device), ValueNet(HOPPER["obs"]).to(device)
        return IQLCritic(q, v, lambda p: torch.optim.Adam(p, lr=3e-4), epochs=1, batch_size=sizes.batch)

    def adam(p):
        return torch.optim.Adam(p, lr=1e-4)

    gmpo = GMPO(model, critic(), adam, beta=1.0, max_weight=100.0, epochs=1, batch_size=sizes.batch)
    gmpg = GMPG(
        model, critic(), adam, adam, beta=1.0, behaviour_epochs=1, epochs=1, behaviour_batch_size=sizes.batch,
        batch_size=sizes.pg_batch, grad_steps=sizes.pg_steps,
    )  # fmt: skip
    if inspect.signature(gmpg.start_policy).parameters:  # π ← μ, fitted to the data (σ_A, the action box)
        gmpg.start_policy(data if data is not None else synthetic_data(max(sizes.batch, 1024), device))
    else:
        gmpg.start_policy()
    return gmpo, gmpg


def measure(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    sizes = SIZES[args.sizes]
    parts = set(args.parts)
    configure_matmul(args.tf32)
    precision = autocast("bf16" if args.bf16 else "none", device)
    compile_mode = ("reduce-overhead" if device.type == "cuda" else "default") if args.compile else None
    torch.manual_seed(0)
    pg_batch_size = sizes.pg_batch if "pg" in parts else 0
    data = synthetic_data(max(pg_batch_size, sizes.batch) * 4, device)
    gmpo, gmpg = build(sizes, device, data)
    if compile_mode:
        compile_modules(gmpo.compilable_modules(), compile_mode)
    idx = torch.arange(sizes.batch, device=device)
    batch = data.batch(idx)
    net_flops = linear_flops(gmpo.policy.net)
    results: dict[str, float | str | int | bool | list] = {}

    def timed(step: Callable[[], object], repeats: int, warmup: int = 3) -> float:
        def run() -> None:
            with precision():
                step()

        return rate(run, device, repeats, warmup)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if "critic" in parts:
        results["critic_steps_per_s"] = timed(lambda: gmpo.critic.update(batch), sizes.repeats * 5)
    if "gmpo" in parts:
        results["gmpo_policy_steps_per_s"] = timed(lambda: gmpo.update(batch), sizes.repeats * 5)
    if "bc" in parts:
        results["gmpg_bc_steps_per_s"] = timed(lambda: gmpg.update_behaviour(batch), sizes.repeats * 5)
    if "pg" in parts:
        pg_batch = data.batch(torch.arange(sizes.pg_batch, device=device))
        pg_repeats = sizes.pg_repeats or max(2, sizes.repeats // 4)
        for gradient in ("exact", "reference"):
            gmpg.gradient, gmpg.estimator = gradient, "exact" if gradient == "exact" else "hutchinson"
            results[f"gmpg_pg_{gradient}_s_per_iteration"] = 1.0 / timed(
                lambda: gmpg.update(pg_batch), pg_repeats, warmup=1
            )

    if parts & {"actions", "eval"}:
        eval_policy = policy_model(sizes, device, CHEETAH)
        sampler = make_policy_sampler(eval_policy, 31, "euler", args.fused, compile_mode)
        obs10 = torch.randn(10, CHEETAH["obs"], device=device)
        with torch.no_grad(), precision():
            if "actions" in parts:
                results["policy_actions_per_s_batch10"] = 10 * rate(lambda: sampler(obs10), device, sizes.repeats * 5)
            if "eval" in parts:
                task = Task("halfcheetah", CHEETAH["env"], *CHEETAH["ref"], max_episode_steps=sizes.eval_steps)
                evaluator = Evaluator(task, sizes.eval_episodes, vectorization="sync")
                start = time.perf_counter()
                result = evaluator.evaluate(sampler, device)
                elapsed = time.perf_counter() - start
                evaluator.close()
                results["eval_seconds"] = elapsed
                results["eval_env_steps_per_s"] = float(result.lengths.sum()) / elapsed
                results["eval_episodes"], results["eval_env_steps"] = sizes.eval_episodes, int(result.lengths.sum())
        if args.profile and "actions" in parts:
            print(profile_table(lambda: sampler(obs10), "31-step action sample, batch 10", device, precision))
    if args.profile and "gmpo" in parts:
        print(profile_table(lambda: gmpo.update(batch), "GMPO policy step", device, precision))

    results["policy_net_mflop_per_sample_forward"] = net_flops / 1e6
    if "gmpo" in parts:
        policy_tflops = 3 * net_flops * sizes.batch * results["gmpo_policy_steps_per_s"] / 1e12
        results["gmpo_policy_achieved_tflops"] = policy_tflops
    results["matmul_peak_tflops"] = matmul_peak_tflops(device)
    if device.type == "cuda":
        results["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        results["device_name"] = torch.cuda.get_device_name(device)
    else:
        results["peak_memory_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        results["device_name"] = platform.processor() or platform.machine()
    results |= {
        "device": str(device), "sizes": args.sizes, "quick": args.sizes == "quick", "tf32": args.tf32,
        "bf16": args.bf16, "compile": args.compile, "fused": args.fused, "parts": [p for p in PARTS if p in parts],
        "batch": sizes.batch, "pg_batch": sizes.pg_batch, "pg_steps": sizes.pg_steps, "net": list(sizes.net),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", choices=list(SIZES), default="reference", help="problem sizes (see above)")
    parser.add_argument("--quick", action="store_true", help="the same as --sizes quick (minutes at most on a CPU)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="measure only these parts")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around every step (fast.autocast=bf16)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the GMPO networks and the sampler")
    parser.add_argument("--fused", action="store_true", help="fused Euler sampler for actions/evaluation")
    parser.add_argument("--profile", action="store_true", help="print where the time of a step and a sample goes")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="intra-op CPU threads (default: 1 for --quick/tiny on a CPU, else PyTorch's default)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "quick"
    if args.threads is None and args.device == "cpu" and args.sizes != "reference":
        # small ops on a shared 2-core machine: a second thread's barrier waits made steps 10-100x slower
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    results = measure(args)
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}", flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
