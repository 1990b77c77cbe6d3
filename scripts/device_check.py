"""Every speed target of genrl measured in one call, within a deadline: run by scripts/device_check.sh (docs/gpu.md).

    python scripts/device_check.py --device cuda --bundle device_bundle --out OUT        # reference sizes, ~8 min
    python scripts/device_check.py --device cpu --tiny --bundle device_bundle --out OUT  # the same code, < 2 min

Steps, in this order, each a fresh process with its own time limit cut to what the deadline leaves (the later
steps keep a reserve): the environment; ``scripts/bench.py`` at the reference sizes (critic, GMPO policy and GMPG
behaviour cloning at B = 4096, 31-step actions, a 10 × 1000-step HalfCheetah evaluation) in fp32 and with TF32 +
bf16 + the fused sampler; the evaluation target through ``train.py`` (the evaluation a run does), without and —
when ``sampling.candidates=16`` composes — with candidate selection; a short GMPO run on hopper-v5-medium (the
bundle's dataset); GMPG's policy gradient at B = 40960 with K = 8 and 32 Euler steps, memory and time fitted
against K; bench.py with torch.compile (CUDA graphs) on top of the fast path; and GMPG at the reference grid
K = 999 (in chunks if one piece would not fit), when the deadline leaves time for its predicted duration.
``--only`` runs a subset (e.g. ``--only gmpg`` for a second call that gives K = 999 the whole deadline).

Everything lands in OUT/device_check.json (rewritten after every step, so a cut-off call keeps what it measured)
and OUT/device_check.md (the figures against the targets); the process output goes to stdout (the shell script
tees it to OUT/device_check.log). Only the standard library is imported here: an install failure is recorded too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
DATASET_FILE = "hopper-v5-medium.hdf5"
#: HalfCheetah never ends an episode early: every evaluation episode runs the full time limit.
CHEETAH = {"env": "HalfCheetah-v5", "obs": 17, "act": 6, "ref_min": -280.178953, "ref_max": 12135.0}
#: Issue #7's H100 targets (reference sizes).
TARGETS = {
    "critic_steps_per_s": 3000.0,  # IQL critic at B = 4096, at least
    "gmpo_policy_steps_per_s": 1500.0,  # GMPO policy at B = 4096, at least
    "eval_seconds": 15.0,  # 10 episodes × 1000 steps × 31 Euler steps, at most
    "reference_run_minutes": 45.0,  # budget=reference GMPO on 1M transitions, at most
}
#: The parts of the check (--only): the benches in fp32 and TF32/bf16/fused, the evaluation target through train.py,
#: the GMPO training run, GMPG at B = 40960, and the bench with torch.compile.
GROUPS = ("bench", "eval", "train", "gmpg", "compile")
MET = {True: "yes", False: "no", None: "n/a (tiny sizes or not measured)"}
#: budget=reference GMPO on 1M transitions at B = 4096: ceil(N/B) · epochs (spec §8: 5000 critic, 10000 policy).
REFERENCE_RUN = {"transitions": 1_000_000, "batch": 4096, "critic_epochs": 5000, "policy_epochs": 10000, "evals": 100}


class Check:
    """Runs the steps against one deadline and keeps the JSON up to date."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.start = args, time.monotonic()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="genrl-device-check-"))
        self.tiny = args.tiny
        self.only = set(args.only)
        print(f"== run folders in {self.work}", flush=True)
        self.report: dict = {
            "schema": 1,
            "mode": f"{args.device}-tiny" if args.tiny else args.device,
            "device": args.device,
            "sizes": "tiny" if args.tiny else "reference",
            "parts": sorted(self.only),
            "started": now(),
            "deadline_s": args.deadline_s,
            "install": {"status": args.install_status, "seconds": args.install_seconds},
            "bundle": read_manifest(Path(args.bundle)),
            "steps": {},
        }
        self.save()

    # -- bookkeeping -------------------------------------------------------------------------------------
    def remaining(self) -> float:
        return self.args.deadline_s - (time.monotonic() - self.start)

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.start, 1)
        self.report["finished"] = now()
        path = self.out / "device_check.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.report, indent=2, default=str) + "\n")
        tmp.replace(path)

    def budget(self, cap: float, reserve: float) -> float:
        """Seconds a step may take: its cap, less what the later steps are promised."""
        return min(cap, self.remaining() - reserve)

    def run(self, name: str, command: list[str], cap: float, reserve: float = 0.0, env: dict | None = None):
        """Run ``command`` (its output echoed to the log) and return (status, stdout) — status ok|failed|timeout|
        skipped; the step's record lands in report["steps"]."""
        limit = self.budget(cap, reserve)
        record = {"command": " ".join(command), "limit_s": round(limit, 1)}
        self.report["steps"][name] = record
        if limit < 5:
            record.update(status="skipped", reason="no time left before the deadline")
            banner(f"{name}: skipped (no time left)")
            self.save()
            return "skipped", ""
        banner(f"{name} (limit {limit:.0f} s): {record['command']}")
        started = time.monotonic()
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                env={**os.environ, **self.thread_env(), "PYTHONUNBUFFERED": "1", **(env or {})},
            )  # fmt: skip
            try:
                code = proc.wait(timeout=limit)
                status = "ok" if code == 0 else "failed"
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code, status = None, "timeout"
            output.seek(0)
            text = output.read()
        print(text, end="" if text.endswith("\n") else "\n", flush=True)
        record.update(status=status, returncode=code, seconds=round(time.monotonic() - started, 2))
        if status != "ok":
            record["output_tail"] = text[-1500:]
        print(f"-- {name}: {status} in {record['seconds']} s", flush=True)
        self.save()
        return status, text

    # -- steps -------------------------------------------------------------------------------------------
    def environment(self) -> None:
        code = (
            "import json, os, platform, sys, torch, genrl\n"
            "d = {'python': sys.version.split()[0], 'torch': torch.__version__, 'genrl': genrl.__version__,\n"
            "     'cuda_available': torch.cuda.is_available(), 'cuda_version': torch.version.cuda,\n"
            "     'torch_threads': torch.get_num_threads(), 'cpu_count': os.cpu_count(), 'host': platform.node(),\n"
            "     'machine': platform.machine()}\n"
            "if torch.cuda.is_available():\n"
            "    p = torch.cuda.get_device_properties(0)\n"
            "    d.update(device_name=p.name, device_memory_gib=round(p.total_memory / 2**30, 2),\n"
            "             multiprocessors=p.multi_processor_count, capability=f'{p.major}.{p.minor}')\n"
            "else:\n"
            "    d.update(device_name=platform.processor() or platform.machine())\n"
            "print(json.dumps(d))\n"
        )
        status, text = self.run("environment", [sys.executable, "-c", code], cap=60, reserve=self.reserve_after(0))
        self.report["environment"] = last_json(text) if status == "ok" else {"status": status}
        self.report["environment"]["date"] = dt.date.today().isoformat()
        self.save()

    def candidates_available(self) -> bool:
        command = [sys.executable, "train.py", "--cfg", "job", "sampling.candidates=16", "budget=smoke", "logger=none"]
        status, text = self.run("candidates_compose", command, cap=60, reserve=self.reserve_after(3))
        available = status == "ok"
        sampling = section(text, "sampling") if available else None
        self.report["candidate_selection"] = {"available": available, "composed_sampling": sampling}
        self.save()
        return available

    def bench(self) -> None:
        sizes = "tiny" if self.tiny else "reference"
        base = [sys.executable, "scripts/bench.py", "--device", self.args.device, "--sizes", sizes, "--json"]
        base += ["--parts", "critic", "gmpo", "bc", "actions", "eval"]
        configs = [("fp32", [], 180, 1), ("tf32_bf16_fused", ["--tf32", "--bf16", "--fused"], 120, 2)]
        self.report["bench"] = {}
        for name, flags, cap, index in configs:
            status, text = self.run(f"bench_{name}", base + flags, cap=cap, reserve=self.reserve_after(index))
            if status == "ok":
                self.report["bench"][name] = last_json(text)
        self.save()

    def bench_compiled(self) -> None:
        if self.args.device == "cpu" and not self.args.compile_cpu:
            self.report["steps"]["bench_tf32_bf16_compile_fused"] = {
                "status": "skipped", "reason": "torch.compile on a CPU takes minutes (pass --compile-cpu)"
            }  # fmt: skip
            self.save()
            return
        sizes = "tiny" if self.tiny else "reference"
        command = [sys.executable, "scripts/bench.py", "--device", self.args.device, "--sizes", sizes, "--json"]
        command += ["--parts", "critic", "gmpo", "bc", "actions", "eval", "--tf32", "--bf16", "--compile", "--fused"]
        status, text = self.run("bench_tf32_bf16_compile_fused", command, cap=240, reserve=self.reserve_after(8))
        if status == "ok":
            self.report.setdefault("bench", {})["tf32_bf16_compile_fused"] = last_json(text)
        self.save()

    def evaluation(self, candidates: bool) -> None:
        """10 episodes × 1000 steps × 31 Euler steps through train.py's own evaluation: one critic and one policy
        step on synthetic HalfCheetah-sized data, then the final evaluation; wall_time_s is its upper bound."""
        episodes, steps = (2, 20) if self.tiny else (10, 1000)
        npz = self.cheetah_data()
        run_dir = self.work / ("eval-candidates" if candidates else "eval-plain")
        command = [
            sys.executable, "train.py", "algorithm=gmpo", "path=gvp", "env=demo", "env.name=halfcheetah-synthetic",
            f"env.eval_env_id={CHEETAH['env']}", f"env.ref_min_score={CHEETAH['ref_min']}",
            f"env.ref_max_score={CHEETAH['ref_max']}", f"dataset.path={npz}", f"env.max_episode_steps={steps}",
            "budget=reference", "budget.steps=1", "budget.evaluations=1", f"eval.episodes={episodes}",
            f"eval.final_episodes={episodes}", "sampling.steps=31", "net.hidden_sizes=[512,256,128]",
            "net.t_cond_hidden_dim=128", "logger=none", "logger.progress=false", f"device={self.args.device}",
            f"hydra.run.dir={run_dir}",
        ]  # fmt: skip
        if self.tiny:
            command.append("budget.max_batch_size=64")
        if candidates:
            command.append("sampling.candidates=16")
        name = "eval_candidates" if candidates else "eval_plain"
        status, _ = self.run(name, command, cap=150, reserve=self.reserve_after(5 if candidates else 4))
        evaluations = self.report.setdefault("eval", {})
        if status != "ok":
            evaluations[name.removeprefix("eval_")] = {"status": status}
            self.save()
            return
        results = json.loads((run_dir / "results.json").read_text())
        final = last_eval(run_dir / "metrics.jsonl")
        env_steps = round(final.get("length_mean", float("nan")) * episodes)
        evaluations[name.removeprefix("eval_")] = {
            "status": "ok", "env": CHEETAH["env"], "episodes": episodes, "max_episode_steps": steps,
            "euler_steps": 31, "candidates": 16 if candidates else 1, "env_steps": env_steps,
            "seconds_upper_bound": results["wall_time_s"],
            "env_steps_per_s_lower_bound": env_steps / results["wall_time_s"], "device": results.get("device"),
            "note": "wall_time_s of a train.py run of 1 critic + 1 policy step and the final evaluation",
        }  # fmt: skip
        self.save()

    def train(self) -> None:
        dataset = self.dataset()
        run_dir = self.work / "train-gmpo"
        if self.tiny:
            critic_steps = policy_steps = 30
            sizing = ["budget=smoke", "budget.evaluations=1", "env.max_episode_steps=50"]
        else:
            rates = self.report.get("bench", {}).get("fp32", {})
            critic_steps = clamp(20 * rates.get("critic_steps_per_s", 500), 2000, 60000)
            policy_steps = clamp(40 * rates.get("gmpo_policy_steps_per_s", 250), 2000, 60000)
            sizing = ["budget=reference", "budget.evaluations=1", "eval.episodes=10", "eval.final_episodes=10"]
        # without the dataset (not in the bundle): the bundled demo task (Pendulum), so that the step still runs
        task = ["env=hopper-v5-medium", f"dataset.path={dataset}"] if dataset is not None else ["env=demo"]
        command = [
            sys.executable, "train.py", "algorithm=gmpo", "path=gvp", *task, *sizing,
            f"budget.phase_steps.critic={critic_steps}", f"budget.phase_steps.policy={policy_steps}", "logger=none",
            "logger.progress=false", f"device={self.args.device}", f"hydra.run.dir={run_dir}",
        ]  # fmt: skip
        status, _ = self.run("train_gmpo", command, cap=180, reserve=self.reserve_after(6))
        if status != "ok":
            self.report["train_gmpo"] = {"status": status}
            self.save()
            return
        results = json.loads((run_dir / "results.json").read_text())
        steps = results["steps"]
        self.report["train_gmpo"] = {
            "status": "ok", "env": results["env"], "dataset": str(dataset) if dataset else "genrl demo (Pendulum)",
            "budget": results["budget"], "phase_steps": results["phase_steps"], "steps": steps,
            "wall_time_s": results["wall_time_s"], "steps_per_s": steps / results["wall_time_s"],
            "score_final": results["score_final"], "score_final_std": results["score_final_std"],
            "dataset_score": results["dataset_score"], "eval_episodes": results["final_episodes"],
            "device": results["device"],
            "note": "steps_per_s = all gradient steps / wall time, the final evaluation included",
        }  # fmt: skip
        self.save()

    def gmpg(self, final: bool) -> None:
        """GMPG's policy gradient (exact gradient, reference network) at B = 40960: K = 8 and 32 give the fit of
        memory and time against K; ``final``: K = 999 (in chunks when one piece would not fit) if time allows."""
        sys.path.insert(0, str(SCRIPTS))
        from bench_gmpg_memory import MeasureError, measure  # numpy: imported only now

        os.environ.update(self.thread_env())  # measure() starts its interpreter with this environment
        batch, grid, reference_steps = (64, (2, 4), 16) if self.tiny else (40960, (8, 32), 999)
        device = self.args.device
        info = self.report.setdefault("gmpg", {"batch": batch, "gradient": "exact", "rows": [], "errors": []})
        info["reference_steps"] = reference_steps
        if not final:
            for steps in grid:
                limit = self.budget(120, self.reserve_after(7))
                banner(f"gmpg B={batch} K={steps} (limit {limit:.0f} s)")
                if limit < 5:
                    info["errors"].append(f"K={steps}: skipped, no time left")
                    continue
                try:
                    row = measure(device, batch, steps, "exact", timeout=limit)
                    print(json.dumps(row), flush=True)
                    info["rows"].append(row)
                except MeasureError as err:
                    print(err, flush=True)
                    info["errors"].append(str(err)[-600:])
            info["fit"] = fit_rows(info["rows"])
            self.report["steps"]["gmpg_grid"] = {"status": "ok" if len(info["rows"]) == len(grid) else "failed"}
            self.save()
            return
        fitted = info.get("fit")
        if not fitted:
            self.report["steps"]["gmpg_reference"] = {"status": "skipped", "reason": "no fit from the small grids"}
            self.save()
            return
        predicted_s = fitted["seconds_intercept"] + fitted["seconds_per_step"] * reference_steps
        predicted_bytes = fitted["bytes_intercept"] + fitted["bytes_per_step"] * reference_steps
        total = (info["rows"][-1].get("device_total_bytes") if info["rows"] else None) or None
        chunk = None
        if total and predicted_bytes > 0.85 * total:  # halve the chunk until its share of the peak fits
            chunk = batch
            while chunk > 1024 and predicted_bytes * chunk / batch > 0.85 * total:
                chunk //= 2
        info["reference_prediction"] = {
            "steps": reference_steps, "seconds": predicted_s, "peak_gib": predicted_bytes / 2**30,
            "chunk_size": chunk, "device_total_gib": total / 2**30 if total else None,
        }  # fmt: skip
        limit = self.budget(600, 0)
        banner(f"gmpg B={batch} K={reference_steps} chunk={chunk} (predicted {predicted_s:.0f} s, limit {limit:.0f} s)")
        if limit < 1.3 * predicted_s + 15:
            self.report["steps"]["gmpg_reference"] = {
                "status": "skipped", "reason": f"predicted {predicted_s:.0f} s, {limit:.0f} s left before the deadline"
            }  # fmt: skip
            self.save()
            return
        started = time.monotonic()
        try:
            row = measure(device, batch, reference_steps, "exact", chunk_size=chunk, timeout=limit)
            print(json.dumps(row), flush=True)
            info["reference"] = row
            status = "ok"
        except MeasureError as err:
            print(err, flush=True)
            info["errors"].append(str(err)[-600:])
            status = "failed"
        self.report["steps"]["gmpg_reference"] = {"status": status, "seconds": round(time.monotonic() - started, 1)}
        self.save()

    # -- helpers -----------------------------------------------------------------------------------------
    def reserve_after(self, index: int) -> float:
        """Seconds promised to the steps after step ``index`` (of those that run): 0 environment, 1 bench fp32,
        2 bench fast, 3 candidates, 4 eval plain, 5 eval candidates, 6 train, 7 gmpg grid; 8 compiled bench and
        9 gmpg at the reference grid get only what is left."""
        per_step = [8, 15, 10, 8, 10, 10, 15, 15, 0, 0] if self.tiny else [15, 60, 45, 15, 45, 45, 60, 60, 0, 0]
        groups = ["env", "bench", "bench", "eval", "eval", "eval", "train", "gmpg", "compile", "gmpg"]
        return float(sum(s for s, g in zip(per_step[index + 1 :], groups[index + 1 :]) if g in self.only or g == "env"))

    def thread_env(self) -> dict[str, str]:
        """--tiny on a CPU: one intra-op thread unless OMP_NUM_THREADS says otherwise. At these sizes a second
        thread gains nothing, and on a busy machine its barrier waits made the same steps 10-100× slower."""
        if self.tiny and self.args.device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            return {"OMP_NUM_THREADS": "1"}
        return {}

    def cheetah_data(self) -> Path:
        path = self.work / "cheetah-synthetic.npz"
        if not path.exists():
            import numpy as np

            rng = np.random.default_rng(0)
            n = 2048 if self.tiny else 8192
            obs = rng.standard_normal((n, CHEETAH["obs"])).astype(np.float32)
            np.savez(
                path, obs=obs, next_obs=obs + 0.01 * rng.standard_normal(obs.shape).astype(np.float32),
                action=rng.uniform(-1, 1, (n, CHEETAH["act"])).astype(np.float32),
                reward=rng.standard_normal(n).astype(np.float32), done=np.zeros(n, dtype=np.float32),
            )  # fmt: skip
        return path

    def dataset(self) -> Path | None:
        candidates = [Path(self.args.bundle) / DATASET_FILE, REPO.parent / "shared" / "datasets" / DATASET_FILE]
        if self.args.dataset:
            candidates.insert(0, Path(self.args.dataset))
        return next((p.resolve() for p in candidates if p.is_file()), None)

    def targets(self) -> None:
        """The figures against the targets: the best configuration of each, and the reference run extrapolated."""
        bench = self.report.get("bench", {})
        out: dict = {}

        def best(key: str, higher: bool):
            values = [(cfg[key], name) for name, cfg in bench.items() if finite(cfg.get(key))]
            return (max if higher else min)(values) if values else (None, None)

        for key, higher in (("critic_steps_per_s", True), ("gmpo_policy_steps_per_s", True), ("eval_seconds", False)):
            value, config = best(key, higher)
            out[key] = target_row(value, config, TARGETS[key], higher, self.tiny)
        for name in ("plain", "candidates"):  # the same target through train.py's evaluation (an upper bound)
            ev = self.report.get("eval", {}).get(name, {})
            value = ev.get("seconds_upper_bound")
            row = target_row(value if finite(value) else None, f"train.py, {name}", TARGETS["eval_seconds"], False,
                             self.tiny)  # fmt: skip
            out[f"eval_seconds_train_py_{name}"] = row
        run = REFERENCE_RUN
        per_epoch = math.ceil(run["transitions"] / run["batch"])
        minutes = {}
        for name, cfg in bench.items():
            if all(finite(cfg.get(k)) for k in ("critic_steps_per_s", "gmpo_policy_steps_per_s", "eval_seconds")):
                seconds = (
                    per_epoch * run["critic_epochs"] / cfg["critic_steps_per_s"]
                    + per_epoch * run["policy_epochs"] / cfg["gmpo_policy_steps_per_s"]
                    + run["evals"] * cfg["eval_seconds"]
                )
                minutes[name] = seconds / 60
        value, config = (min((v, k) for k, v in minutes.items())) if minutes else (None, None)
        out["reference_run_minutes"] = target_row(value, config, TARGETS["reference_run_minutes"], False, self.tiny)
        out["reference_run_minutes"]["by_config"] = minutes
        out["reference_run_minutes"]["formula"] = (
            f"{per_epoch}·{run['critic_epochs']} critic steps / critic rate + {per_epoch}·{run['policy_epochs']} "
            f"policy steps / GMPO rate + {run['evals']} evaluations × eval_seconds (10 full-length episodes)"
        )
        self.report["targets"] = out
        self.save()

    def markdown(self) -> None:
        r = self.report
        env = r.get("environment", {})
        lines = [
            f"# genrl device check: {env.get('device_name', '?')}, {env.get('date', '?')} "
            f"({r['mode']}, sizes {r['sizes']})",
            "",
            f"torch {env.get('torch', '?')}, python {env.get('python', '?')}, genrl {env.get('genrl', '?')}; "
            f"bundle: {r['bundle'].get('git', '?')}; {r['elapsed_s']} s in all.",
            "",
            "| figure | measured | config | target | met |",
            "|---|---|---|---|---|",
        ]
        for key, row in r.get("targets", {}).items():
            lines.append(
                f"| {key} | {fmt(row.get('measured'))} | {row.get('config') or '—'} | {row['comparison']} "
                f"{fmt(row['target'])} | {MET[row.get('met')]} |"
            )
        lines += ["", "| bench config | critic steps/s | GMPO steps/s | BC steps/s | actions/s (batch 10) | eval s |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, cfg in r.get("bench", {}).items():
            lines.append(
                f"| {name} | {fmt(cfg.get('critic_steps_per_s'))} | {fmt(cfg.get('gmpo_policy_steps_per_s'))} | "
                f"{fmt(cfg.get('gmpg_bc_steps_per_s'))} | {fmt(cfg.get('policy_actions_per_s_batch10'))} | "
                f"{fmt(cfg.get('eval_seconds'))} |"
            )
        for name, ev in r.get("eval", {}).items():
            lines.append(f"\nevaluation via train.py ({name}): {json.dumps(ev)}")
        lines.append(f"\ntraining run: {json.dumps(r.get('train_gmpo'))}")
        lines.append(f"\nGMPG: {json.dumps(r.get('gmpg'))}")
        lines.append("\nsteps: " + ", ".join(f"{k} {v.get('status')}" for k, v in r["steps"].items()))
        (self.out / "device_check.md").write_text("\n".join(lines) + "\n")


# -- small helpers -----------------------------------------------------------------------------------------
def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def banner(text: str) -> None:
    print(f"\n== [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def clamp(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, value)))


def fmt(value) -> str:
    return f"{value:.4g}" if finite(value) else str(value)


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                return json.loads(line)
    return {}


def last_eval(metrics: Path) -> dict:
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    evals = [r for r in records if r.get("event") == "eval"]
    return evals[-1] if evals else {}


def section(yaml_text: str, key: str) -> dict:
    """The ``key:`` block of a YAML dump, as a flat dict of its scalar lines (no YAML parser needed)."""
    lines = yaml_text.splitlines()
    out, inside = {}, False
    for line in lines:
        if line.startswith(f"{key}:"):
            inside = True
            continue
        if inside:
            if not line.startswith("  "):
                break
            name, _, value = line.strip().partition(":")
            out[name] = value.strip()
    return out


def read_manifest(bundle: Path) -> dict:
    manifest = bundle / "MANIFEST.txt"
    if not manifest.is_file():
        return {"path": str(bundle), "manifest": None}
    lines = manifest.read_text().splitlines()
    info = {"path": str(bundle), "manifest": lines[0] if lines else ""}
    for line in lines:
        for key in ("built", "git"):
            if line.startswith(f"{key}: "):
                info[key] = line.split(": ", 1)[1]
    return info


def fit_rows(rows: list[dict]) -> dict | None:
    """Peak memory and seconds as intercept + slope · K (one batch size), from two or more grid sizes."""
    if len(rows) < 2:
        return None
    ks = [r["steps"] for r in rows]
    mean_k = sum(ks) / len(ks)
    var_k = sum((k - mean_k) ** 2 for k in ks)

    def line(values: list[float]) -> tuple[float, float]:
        mean_v = sum(values) / len(values)
        slope = sum((k - mean_k) * (v - mean_v) for k, v in zip(ks, values)) / var_k
        return mean_v - slope * mean_k, slope

    b0, b1 = line([float(r["peak_bytes"]) for r in rows])
    s0, s1 = line([float(r["seconds"]) for r in rows])
    return {"bytes_intercept": b0, "bytes_per_step": b1, "seconds_intercept": s0, "seconds_per_step": s1}


def target_row(value, config, target: float, higher: bool, tiny: bool) -> dict:
    met = None if tiny or value is None else (value >= target if higher else value <= target)
    return {"measured": value, "config": config, "target": target, "comparison": "≥" if higher else "≤", "met": met}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: the same code path in under 2 minutes")
    parser.add_argument("--bundle", default=str(REPO / "device_bundle"), help="the bundle folder (its dataset)")
    parser.add_argument("--out", required=True, help="folder for device_check.json and device_check.md")
    parser.add_argument("--dataset", default=None, help="hopper-v5-medium.hdf5 (default: the bundle's)")
    parser.add_argument("--deadline-s", type=float, default=None, help="default: 420 (cuda), 100 (--tiny)")
    parser.add_argument("--compile-cpu", action="store_true", help="also the torch.compile bench on a CPU (slow)")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="measure only these parts")
    parser.add_argument("--keep-work", action="store_true", help="keep the run folders (printed at the start)")
    parser.add_argument("--install-status", default="skipped")
    parser.add_argument("--install-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    if args.deadline_s is None:
        args.deadline_s = 100.0 if args.tiny else 420.0
    check = Check(args)
    only = check.only
    check.environment()
    if "bench" in only:
        check.bench()
    if "eval" in only:
        check.evaluation(candidates=False)
        if check.candidates_available():
            check.evaluation(candidates=True)
        else:
            check.report.setdefault("eval", {})["candidates"] = {"status": "not available"}
            reason = "sampling.candidates does not compose"
            check.report["steps"]["eval_candidates"] = {"status": "skipped", "reason": reason}
    if "train" in only:
        check.train()
    if "gmpg" in only:
        check.gmpg(final=False)
    if "compile" in only:
        check.bench_compiled()
    if "gmpg" in only:
        check.gmpg(final=True)
    check.targets()
    check.markdown()
    if not args.keep_work:
        shutil.rmtree(check.work, ignore_errors=True)
    failed = [name for name, step in check.report["steps"].items() if step.get("status") in ("failed", "timeout")]
    print(f"\n== device check done in {check.report['elapsed_s']} s; not ok: {', '.join(failed) or 'none'}")
    print(f"   {check.out / 'device_check.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
