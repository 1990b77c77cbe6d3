"""What one action costs at inference: network calls per action and act latency, measured the same way after every
run (results.json) and by ``scripts/bench_act.py``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

#: results.json keys written by :func:`measure_act_cost` (genrl-report's inference-cost table reads them).
COST_KEYS = ("calls_per_action", "act_ms_batch1", "actions_per_s_batch1024")
THROUGHPUT_BATCH = 1024


def networks_of(*owners: Any) -> list[nn.Module]:
    """The outermost networks of each owner: a module's direct children that hold parameters (a generative model's
    ``net``, a policy's MLP), or the module itself when its parameters are its own; for a critic (not a module), its
    module attributes (``q``, ``q_target``, ``v``). One forward call of any of them is one network call."""
    found: list[nn.Module] = []
    for owner in owners:
        if owner is None:
            continue
        if not isinstance(owner, nn.Module):
            found += [m for m in vars(owner).values() if isinstance(m, nn.Module)]
            continue
        children = [child for child in owner.children() if any(True for _ in child.parameters())]
        found += children if children else [owner]
    return found


def count_calls(act: Callable[[Tensor], Tensor], obs: Tensor, networks: Iterable[nn.Module]) -> int:
    """Sequential forward calls of ``networks`` made by one ``act(obs)`` (K candidates scored in one batched call
    count once: the latency a controller waits for)."""
    calls = [0]

    def hook(*_: Any) -> None:
        calls[0] += 1

    handles = [network.register_forward_hook(hook) for network in networks]
    try:
        act(obs)
    finally:
        for handle in handles:
            handle.remove()
    return calls[0]


def _timed(act: Callable[[Tensor], Tensor], obs: Tensor) -> float:
    if obs.device.type == "cuda":
        torch.cuda.synchronize(obs.device)
    start = time.perf_counter()
    act(obs)
    if obs.device.type == "cuda":
        torch.cuda.synchronize(obs.device)
    return time.perf_counter() - start


@torch.no_grad()
def measure_act_cost(
    act: Callable[[Tensor], Tensor],
    obs_dim: int,
    device: torch.device | str,
    networks: Iterable[nn.Module] = (),
    repeats: int = 50,
    seconds: float = 2.0,
) -> dict[str, float | int]:
    """Network calls per action, the median latency of one action at batch 1 (ms) and the throughput at batch 1024
    (actions/s) of ``act`` (observations (B, obs_dim) → actions, e.g. an :class:`~genrl.acting.policy.ActingPolicy`)
    on ``device``, with this process's threads. Each timing takes up to ``repeats`` calls after a warm-up, stopping
    after ``seconds``; the global random state is left as it was."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        one = torch.randn(1, obs_dim, device=device)
        calls = count_calls(act, one, networks)
        many = torch.randn(THROUGHPUT_BATCH, obs_dim, device=device)
        timings = {}
        for name, obs in (("one", one), ("many", many)):
            _timed(act, obs)  # warm-up (lazy initialisation, allocator, compilation)
            times, start = [], time.perf_counter()
            while len(times) < repeats and (not times or time.perf_counter() - start < seconds):
                times.append(_timed(act, obs))
            timings[name] = statistics.median(times)
    return {
        "calls_per_action": calls,
        "act_ms_batch1": round(1000.0 * timings["one"], 4),
        "actions_per_s_batch1024": round(THROUGHPUT_BATCH / timings["many"], 1),
    }
