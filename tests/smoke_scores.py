"""What a refactor must not change: every algorithm × path at ``budget=smoke`` on the demo, fixed seed.

``python tests/smoke_scores.py`` adds this machine's recording to ``tests/data/smoke_scores.json`` (run it only on
purpose, on the commit before a refactor: the file is the reference that ``tests/test_smoke_scores.py`` compares).
Floating-point results depend on the CPU's kernels (torch dispatches AVX2/AVX-512 code, whose sums round
differently), so each recording carries the :func:`machine` it was made on; bit-identity is asserted on that machine.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import run_train

REFERENCE = Path(__file__).resolve().parent / "data" / "smoke_scores.json"
#: name → train.py overrides; the defaults (recipe=reference, env=demo, seed=0) plus acting options.
CASES = {
    **{f"{a}-{p}": [f"algorithm={a}", f"path={p}"] for a in ("gmpo", "gmpg", "bc") for p in ("vpsde", "gvp", "icfm")},
    "iql-none": ["algorithm=iql", "path=none"],
    "gmpo-gvp-acting": ["sampling.candidates=3", "algorithm.ema_decay=0.5", "normalize_observations=true"],
    "iql-none-acting": ["algorithm=iql", "path=none", "sampling.candidates=3", "algorithm.policy.deterministic=false"],
}
#: results.json keys that depend only on the configuration and the seed (not on time or host).
RESULT_KEYS = ("algorithm", "path", "unused_config", "score_final", "score_final_std", "score_best", "return_mean",
               "return_std", "sampling", "dataset_score", "steps", "phase_steps", "curve")  # fmt: skip


def tensors_digest(tree: object, digest: hashlib._Hash | None = None) -> str:
    """sha256 over every tensor of a checkpoint's state (weights, optimiser moments), in sorted key order."""
    digest = digest or hashlib.sha256()
    if isinstance(tree, dict):
        for key in sorted(tree, key=str):
            digest.update(str(key).encode())
            tensors_digest(tree[key], digest)
    elif isinstance(tree, list | tuple):
        for item in tree:
            tensors_digest(item, digest)
    elif isinstance(tree, torch.Tensor):
        digest.update(tree.detach().cpu().contiguous().numpy().tobytes())
    else:
        digest.update(repr(tree).encode())
    return digest.hexdigest()


def smoke_scores(name: str, root: Path) -> dict[str, object]:
    """Train case ``name`` in ``root/name``; its deterministic results, metrics and checkpoint digests."""
    run_dir = root / name
    run_train(["budget=smoke", "logger=none", f"hydra.run.dir={run_dir}", *CASES[name]], root)
    results = json.loads((run_dir / "results.json").read_text())
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    return {
        **{key: results[key] for key in RESULT_KEYS},
        "metrics_sha256": hashlib.sha256((run_dir / "metrics.jsonl").read_bytes()).hexdigest(),
        "checkpoint_sha256": tensors_digest(state["algorithm"]),
    }


def machine() -> dict[str, str]:
    """What floating-point results depend on besides genrl: the CPU (model, flags), torch's kernel choice, numpy."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    fields = dict(line.split(":", 1) for line in reversed(lines) if ":" in line)  # the first CPU's
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    model, flags = fields.get("model name", platform.processor()), fields.get("flags", "")
    return {
        "cpu": model,
        "cpu_flags_sha256": hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


def recordings() -> list[dict]:
    """Every recording: ``{"machine": machine() or None if unknown, "scores": {case: smoke_scores}}``."""
    return json.loads(REFERENCE.read_text())["recordings"] if REFERENCE.exists() else []


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        scores = {name: smoke_scores(name, Path(tmp)) for name in CASES}
    here = machine()
    kept = [r for r in recordings() if r["machine"] != here]
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({"recordings": [*kept, {"machine": here, "scores": scores}]}, indent=1) + "\n")
    print(f"wrote {REFERENCE} ({len(scores)} runs on {here})")
