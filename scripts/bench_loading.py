"""Benchmark load_d4rl on a synthesized 1M-transition D4RL-layout file: load time and peak memory growth.

The file has hopper's dims (obs 11, action 3), a timeout every 1000 rows and a few early terminals. The load
runs in a fresh subprocess, which reports the growth of its peak RSS (``ru_maxrss``) across the call; the
ratio is that growth over the size of the returned arrays. Targets: < 10 s and ratio < 2. The file is
freshly written, so it is read from the OS page cache (a warm-cache timing). The last line printed is JSON.

    python scripts/bench_loading.py [--transitions 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

OBS_DIM, ACT_DIM, EPISODE_STEPS = 11, 3, 1000
TARGET_S, TARGET_RATIO = 10.0, 2.0

CHILD = """
import json, resource, sys, time
import h5py, numpy, torch
from genrl.data import load_d4rl

before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
data = load_d4rl(path=sys.argv[1])
load_s = time.perf_counter() - start
after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tensors = (data.obs, data.action, data.reward, data.next_obs, data.done)
arrays_bytes = sum(t.numel() * t.element_size() for t in tensors)
print(json.dumps({"transitions": len(data), "load_s": load_s, "peak_rss_growth_kb": after_kb - before_kb,
                  "rss_before_kb": before_kb, "arrays_bytes": arrays_bytes}))
"""


def synthesize(path: Path, transitions: int, seed: int = 0) -> None:
    """A D4RL v2-layout HDF5 file: float32 arrays, bool flags, infos/ and metadata/ groups."""
    rng = np.random.default_rng(seed)
    timeouts = np.zeros(transitions, dtype=bool)
    timeouts[EPISODE_STEPS - 1 :: EPISODE_STEPS] = True
    terminals = (rng.random(transitions) < 2e-4) & ~timeouts
    with h5py.File(path, "w") as f:
        for key in ("observations", "next_observations"):
            f.create_dataset(key, data=rng.standard_normal((transitions, OBS_DIM), dtype=np.float32))
        f.create_dataset("actions", data=rng.uniform(-1, 1, (transitions, ACT_DIM)).astype(np.float32))
        f.create_dataset("rewards", data=rng.standard_normal(transitions, dtype=np.float32))
        f.create_dataset("terminals", data=terminals)
        f.create_dataset("timeouts", data=timeouts)
        f.create_dataset("infos/action_log_probs", data=np.zeros(transitions, dtype=np.float32))
        f.create_dataset("metadata/algorithm", data="synthetic")


def measure(path: Path) -> dict[str, float | int]:
    """Run load_d4rl in a fresh interpreter and return its report."""
    command = [sys.executable, "-c", CHILD, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mb = child["peak_rss_growth_kb"] / 1024
    arrays_mb = child["arrays_bytes"] / 2**20
    return {
        "transitions": child["transitions"],
        "load_s": round(child["load_s"], 3),
        "peak_rss_mb": round(peak_mb, 1),
        "arrays_mb": round(arrays_mb, 1),
        "ratio": round(peak_mb / arrays_mb, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "synthetic_hopper-v2.hdf5"
        synthesize(path, args.transitions)
        result = measure(path)
        file_mb = path.stat().st_size / 2**20
    print(f"{'file rows':<22}{args.transitions:>12,}   ({file_mb:.1f} MB on disk)")
    print(f"{'transitions kept':<22}{result['transitions']:>12,}")
    print(f"{'load time (s)':<22}{result['load_s']:>12.3f}   target < {TARGET_S:g}")
    print(f"{'peak RSS growth (MB)':<22}{result['peak_rss_mb']:>12.1f}")
    print(f"{'final arrays (MB)':<22}{result['arrays_mb']:>12.1f}")
    print(f"{'ratio':<22}{result['ratio']:>12.3f}   target < {TARGET_RATIO:g}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
