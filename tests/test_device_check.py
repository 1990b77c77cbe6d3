"""scripts/device_check.sh --device cpu --tiny: the GPU check's code path, end to end on a CPU (issue: GPU proof).

The tiny mode uses this interpreter (``--no-install``) instead of installing the offline bundle, and an empty
bundle folder (the training step then takes ../shared/datasets/hopper-v5-medium.hdf5, or the demo task).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import device_check  # noqa: E402  (scripts/ is not a package)


def positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    root = tmp_path_factory.mktemp("device_check")
    bundle, out = root / "bundle", root / "out"
    bundle.mkdir()
    command = ["bash", str(REPO / "scripts" / "device_check.sh"), "--device", "cpu", "--tiny", "--no-install",
               "--python", sys.executable, "--total-s", "400", str(bundle), str(out)]  # fmt: skip
    # --total-s: generous on a busy CI machine; unloaded, the tiny mode takes about a minute on 2 cores
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=root)
    return proc, out


@pytest.mark.slow
def test_tiny_mode_writes_json_log_and_summary(tiny_run):
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads((out / "device_check.json").read_text())
    log = (out / "device_check.log").read_text()
    assert "device check done" in log and "bench_fp32" in log
    assert "| critic_steps_per_s |" in (out / "device_check.md").read_text()

    assert report["mode"] == "cpu-tiny" and report["sizes"] == "tiny"
    assert report["install"]["status"] == "skipped"
    assert positive(report["elapsed_s"]) and report["elapsed_s"] < report["deadline_s"] + 30
    assert report["environment"]["torch"] and report["environment"]["device_name"]
    for name in ("environment", "candidates_compose", "bench_fp32", "bench_tf32_bf16_fused", "eval_plain",
                 "train_gmpo", "gmpg_grid"):  # fmt: skip
        assert report["steps"][name]["status"] == "ok", (name, report["steps"][name])

    for config in ("fp32", "tf32_bf16_fused"):
        bench = report["bench"][config]
        for key in ("critic_steps_per_s", "gmpo_policy_steps_per_s", "gmpg_bc_steps_per_s",
                    "policy_actions_per_s_batch10", "eval_seconds", "eval_env_steps_per_s", "matmul_peak_tflops",
                    "gmpo_policy_achieved_tflops"):  # fmt: skip
            assert positive(bench[key]), (config, key, bench.get(key))
        assert bench["sizes"] == "tiny" and bench["device"] == "cpu"
    assert report["bench"]["tf32_bf16_fused"]["bf16"] and report["bench"]["tf32_bf16_fused"]["fused"]

    plain = report["eval"]["plain"]
    assert plain["status"] == "ok" and plain["euler_steps"] == 31 and plain["candidates"] == 1
    assert positive(plain["seconds_upper_bound"]) and positive(plain["env_steps"])
    # candidate selection: measured when sampling.candidates composes, else recorded as not available
    candidates = report["eval"]["candidates"]
    if report["candidate_selection"]["available"]:
        assert candidates["status"] == "ok" and candidates["candidates"] == 16
        assert positive(candidates["seconds_upper_bound"])
    else:
        assert candidates["status"] == "not available"

    train = report["train_gmpo"]
    assert train["status"] == "ok" and train["steps"] >= 60  # 30 critic + 30 policy steps (+ any other phase)
    assert positive(train["steps_per_s"]) and positive(train["wall_time_s"])
    assert math.isfinite(train["score_final"])

    gmpg = report["gmpg"]
    assert [row["steps"] for row in gmpg["rows"]] == [2, 4] and gmpg["batch"] == 64
    for row in gmpg["rows"]:
        assert positive(row["seconds"]) and row["peak_bytes"] >= 0
    assert gmpg["fit"] is not None and positive(gmpg["reference_prediction"]["seconds"])

    targets = report["targets"]
    for key in ("critic_steps_per_s", "gmpo_policy_steps_per_s", "eval_seconds", "reference_run_minutes"):
        assert positive(targets[key]["measured"]), (key, targets[key])
        assert targets[key]["met"] is None  # tiny sizes are not the targets' sizes
    assert positive(targets["reference_run_minutes"]["by_config"]["fp32"])


def test_helpers():
    rows = [{"steps": 8, "peak_bytes": 100.0, "seconds": 2.0}, {"steps": 32, "peak_bytes": 340.0, "seconds": 5.0}]
    fit = device_check.fit_rows(rows)
    assert fit["bytes_per_step"] == pytest.approx(10.0) and fit["bytes_intercept"] == pytest.approx(20.0)
    assert fit["seconds_intercept"] + 999 * fit["seconds_per_step"] == pytest.approx(1 + 999 / 8)
    assert device_check.fit_rows(rows[:1]) is None
    yaml_text = "seed: 0\nsampling:\n  steps: 31\n  candidates: 16\neval:\n  episodes: 10\n"
    assert device_check.section(yaml_text, "sampling") == {"steps": "31", "candidates": "16"}
    assert device_check.last_json("noise\n{\"a\": 1}\ntrailer\n") == {"a": 1}
    met = device_check.target_row(1600.0, "fp32", 1500.0, True, tiny=False)
    assert met["met"] is True and device_check.target_row(20.0, "x", 15.0, False, tiny=False)["met"] is False
