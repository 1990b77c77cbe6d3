"""``genrl-distill RUN_DIR``: distil a trained run's acting policy into a one-step policy μ(s, z) and evaluate it.

The teacher is the run's acting weights drawn as its sampler draws one action (``sampling.steps``, ``noise_scale``;
no candidate selection, which is not a function of the noise), read as a map from the noise z to the action
(:meth:`genrl.algorithms.base.Algorithm.make_noise_sampler`). μ(s, z) (:class:`genrl.models.one_step.OneStepPolicy`)
is fitted by mean‖μ(s, z) − Φ(z; s)‖² on the run's (normalised) dataset states, then evaluated on the run's task
like the run's own final evaluation. Φ already starts its solver from τ·z (τ the run's ``noise_scale``), so μ acts
at z ~ N(0, I) (:func:`student_sampler`): μ(s, z) ≈ Φ(z; s) is the teacher's own action distribution.

The teacher's multi-step solve is ~95 % of a fit that draws it afresh at every step, so by default it is solved once
for ``--pairs`` (state, z) pairs (:mod:`genrl.training.distillation`, batched) that the student's steps then sample;
``distill_loss_fresh`` is the fit's loss on pairs it never saw.

``RUN_DIR/distill/`` (or ``--out``) gets results.json (score, distillation loss, inference cost, training time;
``genrl-report`` reads it as algorithm ``<name>-distilled``), ``one_step.pt`` (μ's weights, dims, action box,
observation normalisation) and ``policy.ts``, μ with the normalisation as one TorchScript file
(``torch.jit.load("policy.ts")(obs)``, no genrl needed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genrl.acting.cost import measure_act_cost, networks_of
from genrl.acting.export import export_policy
from genrl.acting.loading import checkpoint_config, load_acting_weights
from genrl.acting.policy import ActingPolicy
from genrl.building import algorithm_class, prepare_data
from genrl.config_checks import resolve_device
from genrl.errors import GenrlError, one_line
from genrl.evaluation import SCORE_SCALE, Evaluator, comparability
from genrl.io import write_json
from genrl.models.one_step import OneStepPolicy
from genrl.run_folder import CHECKPOINT_FILE, RESULTS_FILE
from genrl.seeding import seed_everything
from genrl.training.checkpoint import load_checkpoint
from genrl.training.distillation import draw_pairs, fit_student, fresh_batches, fresh_loss, loss_curve

STUDENT_FILE = "one_step.pt"
EXPORT_FILE = "policy.ts"  # TorchScript, runnable without genrl (genrl.acting.export)
STUDENT_NOISE_SCALE = 1.0  # μ(s, z) is fitted at z ~ N(0, I) to Φ(z; s), which starts from τ·z
DEFAULT_PAIRS = 1_000_000  # teacher draws the student trains on: 20k steps × 256 visit each ~5 times


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrl-distill", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run folder (with checkpoint.pt)")
    parser.add_argument("--out", type=Path, help="where results.json and one_step.pt go (default RUN_DIR/distill)")
    parser.add_argument("--steps", type=int, default=20000, help="distillation steps (default 20000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=DEFAULT_PAIRS,
                        help=f"(state, z) pairs the teacher is solved for once, which the student samples "
                             f"(default {DEFAULT_PAIRS}); 0: a fresh teacher solve at every step")  # fmt: skip
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam's step size")
    parser.add_argument("--hidden-sizes", type=int, nargs="+", default=[256, 256],
                        help="μ's MLP widths (512 512 512 512 with --steps 40000: a ~10x lower loss at ~2x the "
                             "latency and ~4x the time)")  # fmt: skip
    parser.add_argument("--episodes", type=int, help="evaluation episodes (default: the run's final evaluation's)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--seed", type=int, help="default: the run's seed")
    return parser


def distill(args: argparse.Namespace) -> dict[str, Any]:
    device = resolve_device(args.device)
    state = load_checkpoint(args.run_dir / CHECKPOINT_FILE, map_location=device)
    if state is None:
        raise GenrlError(f"{args.run_dir}: no {CHECKPOINT_FILE} here (expected a finished run folder)")
    cfg = checkpoint_config(state, candidates=1)
    meta = state["metadata"]
    teacher = algorithm_class(cfg).make_noise_sampler(load_acting_weights(state, cfg, device), cfg.sampling)
    if teacher is None:
        raise GenrlError(
            f"algorithm={cfg.algorithm.name}, sampling.method={cfg.sampling.method}: its policy is not a map from "
            "noise to action that can be distilled (a generative policy with sampling.method=euler is)"
        )
    seed = cfg.seed if args.seed is None else args.seed
    seed_everything(seed)
    prepared = prepare_data(cfg, device)
    obs = prepared.data.obs
    box = meta.get("action_box")
    student = OneStepPolicy(meta["obs_dim"], meta["action_dim"], args.hidden_sizes, *(box or (None, None))).to(device)
    start = time.perf_counter()
    if args.pairs:
        batches = draw_pairs(teacher, obs, student.action_dim, args.pairs).batches(obs, args.batch_size)
    else:
        batches = fresh_batches(teacher, obs, student.action_dim, args.batch_size)
    teacher_time = time.perf_counter() - start
    losses = fit_student(student, batches, args.steps, args.lr)
    wall = time.perf_counter() - start
    fresh = fresh_loss(student, teacher, obs)
    student.eval()
    act = ActingPolicy(student_sampler(student), prepared.normalizer)
    episodes = args.episodes or cfg.eval.final_episodes
    ev = cfg.eval
    evaluator = Evaluator(
        prepared.task, episodes, ev.num_envs, seed + ev.seed_offset, ev.vectorization, ev.clip_actions
    )
    try:
        summary = evaluator.evaluate(act, device, episodes).summary()
    finally:
        evaluator.close()
    tail = torch.stack(losses[-100:]).mean().item() if losses else None
    teacher_results = args.run_dir / RESULTS_FILE
    teacher_score = json.loads(teacher_results.read_text()).get("score_final") if teacher_results.exists() else None
    out = args.out or args.run_dir / "distill"
    torch.save({"policy": student.state_dict(), "hidden_sizes": list(args.hidden_sizes), "obs_dim": meta["obs_dim"],
                "action_dim": meta["action_dim"], "action_box": box, "obs_normalizer": meta.get("obs_normalizer"),
                "noise_scale": STUDENT_NOISE_SCALE, "teacher_noise_scale": cfg.sampling.noise_scale},
               _mkdir(out) / STUDENT_FILE)  # fmt: skip
    results = {
        "algorithm": f"{cfg.algorithm.name}-distilled",
        "path": cfg.path.name,
        "critic": cfg.critic.name,
        "env": cfg.env.name,
        "eval_env": prepared.task.eval_env_id,
        "seed": seed,
        "budget": cfg.budget.name,
        "recipe": cfg.recipe_name,
        "teacher_run": str(args.run_dir.resolve()),
        "teacher_sampling": dict(cfg.sampling),
        "teacher_score_final": teacher_score,
        "score_final": summary.get("score"),
        "score_final_std": summary.get("score_std"),
        "score_best": summary.get("score"),
        "return_mean": summary.get("return_mean"),
        "return_std": summary.get("return_std"),
        "final_episodes": episodes,
        "dataset_score": prepared.dataset_score,
        "student_hidden_sizes": list(args.hidden_sizes),
        "student_noise_scale": STUDENT_NOISE_SCALE,
        "distill_steps": args.steps,
        "distill_batch_size": args.batch_size,
        "distill_pairs": args.pairs or None,  # null: a fresh teacher draw at every step
        "distill_loss": tail,  # mean over the last 100 steps
        "distill_loss_fresh": fresh,  # on FRESH_PAIRS pairs the fit never saw
        "distill_teacher_time_s": round(teacher_time, 2),
        "distill_loss_curve": loss_curve(losses),
        "wall_time_s": round(wall, 2),
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "score_scale": SCORE_SCALE,
        **comparability(prepared.task),
        **measure_act_cost(act, meta["obs_dim"], device, networks_of(student)),
    }
    export_policy(student, student.act, prepared.normalizer, meta["obs_dim"],
                  meta["action_dim"], out / EXPORT_FILE, device)  # fmt: skip
    write_json(results, out / RESULTS_FILE)
    return results


def student_sampler(student: OneStepPolicy) -> Callable[[Tensor], Tensor]:
    """μ acting as it was fitted: z ~ N(0, I). (The teacher's τ is inside Φ; scaling z by τ again would act as the
    teacher at τ², a narrower policy than the one distilled.)"""
    return student.sampler(STUDENT_NOISE_SCALE)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 0 or args.batch_size < 1 or args.pairs < 0:
        print("error: --steps and --pairs must be >= 0 and --batch-size >= 1", file=sys.stderr)
        return 2
    try:
        results = distill(args)
    except GenrlError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps({k: results[k] for k in ("algorithm", "score_final", "distill_loss", "calls_per_action",
                                              "act_ms_batch1", "teacher_score_final")}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
