"""Memory of one GMPG policy-gradient iteration versus batch B and Euler steps K, extrapolated to the reference.

    python scripts/bench_gmpg_memory.py                                   # CPU, minutes
    python scripts/bench_gmpg_memory.py --device cuda --batches 4096 16384 --steps 32 128

Each (B, K) runs one iteration (reference network, hopper dims, ``recompute=True``, the ``--gradient`` of
choice) in a fresh subprocess and reports the peak memory above the state just before it: peak RSS growth on
CPU, ``torch.cuda.max_memory_allocated`` growth on CUDA. A least-squares fit

    peak ≈ b·B + c·B·K      (one recomputed step's activations per state + the K stored Euler states)

extrapolates to the reference B = 40960, K = 999 and gives the largest ``algorithm.chunk_size`` whose
iteration fits a memory budget (80 GiB by default). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REFERENCE_BATCH, REFERENCE_STEPS = 40960, 999

CHILD = """
import json, resource, sys, time
import torch
sys.path.insert(0, {scripts!r})
from bench import REFERENCE, build, synthetic_data
from dataclasses import replace

device, batch, steps, gradient = torch.device(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chunk = int(sys.argv[5]) or None
torch.manual_seed(0)
sizes = replace(REFERENCE, batch=batch, pg_batch=batch, pg_steps=steps)
data = synthetic_data(batch, device)
_, gmpg = build(sizes, device, data)
gmpg.gradient, gmpg.estimator = gradient, "exact" if gradient == "exact" else "hutchinson"
gmpg.chunk_size = chunk
pg_batch = data.batch(torch.arange(batch, device=device))
if device.type == "cuda":
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
else:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
gmpg.update(pg_batch)
if device.type == "cuda":
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
seconds = time.perf_counter() - start
row = {{"batch": batch, "steps": steps, "chunk_size": chunk, "peak_bytes": peak, "seconds": seconds}}
if device.type == "cuda":
    row["device_total_bytes"] = torch.cuda.get_device_properties(device).total_memory
print(json.dumps(row))
"""


class MeasureError(RuntimeError):
    """One (B, K) point gave no result: it failed (``out_of_memory`` tells whether for memory) or ran too long."""

    def __init__(self, message: str, out_of_memory: bool = False) -> None:
        super().__init__(message)
        self.out_of_memory = out_of_memory


def measure(
    device: str, batch: int, steps: int, gradient: str, chunk_size: int | None = None, timeout: float | None = None
) -> dict:
    """One iteration at (B, K) in a fresh interpreter (``chunk_size``: GMPG's ``algorithm.chunk_size``)."""
    code = CHILD.format(scripts=str(Path(__file__).resolve().parent))
    # glibc's dynamic mmap threshold lets freed activations fragment the heap, so peak RSS would grow with K
    # even when nothing stays alive: a fixed threshold makes RSS track live memory
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    command = [sys.executable, "-c", code, device, str(batch), str(steps), gradient, str(chunk_size or 0)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MeasureError(f"B={batch} K={steps}: no result within {timeout:.0f} s") from None
    if proc.returncode != 0:
        oom = "out of memory" in proc.stderr.lower()
        raise MeasureError(f"B={batch} K={steps} failed:\n{proc.stderr[-2000:]}", out_of_memory=oom)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit(rows: list[dict]) -> tuple[float, float]:
    """Least-squares (b, c) of peak ≈ b·B + c·B·K, in bytes."""
    design = np.array([[r["batch"], r["batch"] * r["steps"]] for r in rows], dtype=float)
    peaks = np.array([r["peak_bytes"] for r in rows], dtype=float)
    (b, c), *_ = np.linalg.lstsq(design, peaks, rcond=None)
    return float(b), float(c)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--gradient", choices=["exact", "reference"], default="exact")
    parser.add_argument("--budget-gib", type=float, default=80.0, help="memory to fit one chunk in")
    parser.add_argument("--chunk-size", type=int, default=None, help="GMPG's algorithm.chunk_size (default: none)")
    args = parser.parse_args(argv)

    rows = []
    for batch in args.batches:
        for steps in args.steps:
            try:
                row = measure(args.device, batch, steps, args.gradient, args.chunk_size)
            except MeasureError as err:
                raise SystemExit(str(err)) from None
            rows.append(row)
            print(f"B={batch:6d} K={steps:4d}  peak {row['peak_bytes'] / 2**30:7.3f} GiB  {row['seconds']:8.2f} s")
    b, c = fit(rows)
    per_state = b + c * REFERENCE_STEPS  # bytes per state of the batch at the reference K
    reference_gib = per_state * REFERENCE_BATCH / 2**30
    chunk = int(args.budget_gib * 2**30 / per_state) if per_state > 0 else None
    print(f"fit: {b / 1024:.1f} KiB per state + {c:.1f} B per state per Euler step")
    print(f"B={REFERENCE_BATCH}, K={REFERENCE_STEPS}: ≈ {reference_gib:.1f} GiB in one piece; "
          f"the largest chunk in {args.budget_gib:g} GiB ≈ {chunk} states")  # fmt: skip
    summary = {
        "device": args.device, "gradient": args.gradient, "rows": rows, "bytes_per_state": b,
        "bytes_per_state_step": c, "reference_batch": REFERENCE_BATCH, "reference_steps": REFERENCE_STEPS,
        "reference_peak_gib": reference_gib, "budget_gib": args.budget_gib, "max_chunk_in_budget": chunk,
    }  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
