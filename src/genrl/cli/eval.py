"""``genrl-eval RUN_DIR``: evaluate a trained run's policy as its evaluation acted, from the shell.

The policy, its observation normalisation and candidate selection come from the run's checkpoint
(:func:`genrl.acting.loading.load_acting_policy`, the same path as :class:`genrl.Agent`); the episodes run in the
run's :class:`~genrl.evaluation.Evaluator`. A JSON summary goes to stdout (and atomically to ``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genrl.acting.loading import check_finished, load_acting_policy
from genrl.config_checks import check_device, check_env_id, resolve_device
from genrl.errors import ConfigError, GenrlError, one_line
from genrl.evaluation import Evaluator, Task, comparability
from genrl.io import check_output_dir, check_output_file, closed_pipe_safe, write_json
from genrl.run_folder import CHECKPOINT_FILE, RESULTS_FILE
from genrl.training.checkpoint import load_checkpoint

DESCRIPTION = """\
Evaluate the policy of a genrl run (a run folder, or its checkpoint.pt) for N episodes with the run's sampling
settings (each can be overridden), optionally recording a video of every episode, and print a JSON summary.

By default the episodes are the run's final evaluation: eval.final_episodes episodes reset with seeds
seed + eval.seed_offset + i, so the score reproduces the run's score_final up to the policy's sampling noise.
"""

EPILOG = """\
videos: --video DIR records every episode with Gymnasium's RecordVideo (one env at a time, file i = episode i).
It needs moviepy (pip install 'genrl[video]'; Pendulum also needs pygame). MuJoCo renders with OpenGL: on a
headless machine set MUJOCO_GL=egl (a GPU, or Mesa's EGL) or MUJOCO_GL=osmesa (CPU, libosmesa6); genrl-eval uses
egl when neither MUJOCO_GL nor DISPLAY is set.

exit status: 0 evaluated, 2 a bad run folder, checkpoint or option (one line on stderr).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genrl-eval", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run folder, or its checkpoint.pt")
    parser.add_argument("--episodes", type=_positive_int, help="episodes (default: the run's eval.final_episodes)")
    parser.add_argument(
        "--seed", type=_non_negative_int,
        help="episode i resets with SEED + i, and SEED seeds the policy's noise (default: seed + eval.seed_offset)",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="torch device for the policy (default: cpu)")
    parser.add_argument("--num-envs", type=_positive_int, help="episodes side by side (default: the run's)")
    parser.add_argument("--max-episode-steps", type=_positive_int, help="time limit (default: the run's task)")
    sampling = parser.add_argument_group("sampling (default: the run's sampling.* settings)")
    sampling.add_argument("--candidates", type=_positive_int, help="K actions per state scored by the critic")
    sampling.add_argument("--selection", help="argmax | softmax")
    sampling.add_argument("--temperature", type=float, help="softmax temperature (units of σ_A)")
    sampling.add_argument("--noise-scale", type=float, help="τ: initial noise N(0, τ²I)")
    sampling.add_argument("--sampling-steps", type=_positive_int, help="ODE steps of a generative policy")
    sampling.add_argument("--guidance-scale", type=_non_negative, help="w of a guided policy (QGPO: v_μ + w·c_t·∇E)")
    parser.add_argument("--ref-min-score", type=float, help="R_min for scores (default: the run's task)")
    parser.add_argument("--ref-max-score", type=float, help="R_max for scores (default: the run's task)")
    parser.add_argument("--video", metavar="DIR", type=Path, help="record every episode as DIR/<env>-episode-<i>.mp4")
    parser.add_argument(
        "--allow-unfinished", action="store_true",
        help="evaluate the checkpoint of a run whose training has not finished (refused otherwise), with a warning",
    )  # fmt: skip
    parser.add_argument("--output", metavar="FILE", type=Path, help="also write the JSON summary to FILE (atomically)")
    return parser


@closed_pipe_safe
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.output is not None:  # before any compute
            check_output_file(args.output, "--output")
        if args.video is not None:
            check_output_dir(args.video, "--video")
        summary = evaluate_run(args)
        if args.output is not None:
            write_json(summary, args.output)
    except GenrlError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


def evaluate_run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the run's acting policy, run the episodes, return the summary (see :func:`main`)."""
    path = Path(args.run_dir)
    file = path / CHECKPOINT_FILE if path.is_dir() else path
    if not path.exists():
        raise GenrlError(f"{path}: no such run folder or checkpoint")
    check_device(args.device)
    device = resolve_device(args.device)
    state = load_checkpoint(file, map_location=device)
    if state is None:
        raise GenrlError(f"{file}: no checkpoint here (expected a run folder or its {CHECKPOINT_FILE})")
    finished = check_finished(state, file, args.allow_unfinished, flag="--allow-unfinished")
    config = state["metadata"]["config"]
    run_eval, overrides = config.get("eval", {}), _sampling_overrides(args)
    weights, policy = load_acting_policy(state, device, **overrides)
    if args.guidance_scale is not None:
        if not hasattr(weights, "guidance_scale"):
            raise GenrlError(
                f"--guidance-scale {args.guidance_scale}: algorithm={config.get('algorithm', {}).get('name')} acts "
                "without guidance (a guided policy, algorithm=qgpo, has a guidance scale)"
            )
        weights.guidance_scale = args.guidance_scale  # read at every solver step
    task = _task(state, file.parent, args)
    episodes = args.episodes or int(run_eval.get("final_episodes", 10))
    seed = args.seed
    if seed is None:  # the run's final evaluation
        seed = int(config.get("seed", 0)) + int(run_eval.get("seed_offset", 100_000))
    if args.video is not None and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"  # headless: MuJoCo's OpenGL through EGL
    evaluator = Evaluator(
        task, episodes, args.num_envs or run_eval.get("num_envs"), seed, run_eval.get("vectorization", "sync"),
        bool(run_eval.get("clip_actions", False)), video_dir=args.video,
    )  # fmt: skip
    torch.manual_seed(seed)
    start = time.monotonic()
    try:
        result = evaluator.evaluate(policy, device, episodes)
        evaluator.close()  # the last video is written on close
    except Exception as err:
        if args.video is None:
            raise
        raise GenrlError(
            f"--video {args.video}: recording {task.eval_env_id} failed ({one_line(err)}); videos need moviepy "
            "(pip install 'genrl[video]'), and MuJoCo on a headless machine MUJOCO_GL=egl or MUJOCO_GL=osmesa"
        ) from None
    summary = {
        "run_dir": str(file.parent.resolve()),
        "checkpoint": str(file.resolve()),
        "algorithm": config.get("algorithm", {}).get("name"),
        "env": task.name,
        "eval_env": task.eval_env_id,
        "training_finished": finished,  # false only with --allow-unfinished: not the run's policy
        "episodes": episodes,
        "seed": seed,
        "device": str(device),
        "sampling": {**config.get("sampling", {}), **overrides},
        **({} if args.guidance_scale is None else {"guidance_scale": args.guidance_scale}),
        **result.summary(),
        "returns": result.returns.tolist(),
        "scores": result.scores.tolist(),
        "lengths": result.lengths.tolist(),
        **comparability(task),  # score_scale, score_normalized, score_comparable
        "wall_time_s": round(time.monotonic() - start, 2),
    }
    if args.video is not None:
        summary["videos"] = sorted(str(p.resolve()) for p in Path(args.video).glob("*.mp4"))
    return summary


def _task(state: dict[str, Any], run_dir: Path, args: argparse.Namespace):
    """The run's task (its checkpoint's, or from the config and results.json of a run from before genrl-eval)."""
    stored = dict(state["metadata"].get("task") or {})
    if not stored:
        env = state["metadata"]["config"].get("env", {})
        results = _read_json(run_dir / RESULTS_FILE)
        stored = {
            "name": env.get("name") or results.get("env") or "run",
            "eval_env_id": env.get("eval_env_id") or results.get("eval_env"),
            "ref_min_score": env.get("ref_min_score"),
            "ref_max_score": env.get("ref_max_score"),
            "max_episode_steps": env.get("max_episode_steps"),
            "kwargs": env.get("kwargs") or {},
        }
    for key in ("ref_min_score", "ref_max_score", "max_episode_steps"):
        value = getattr(args, key)
        if value is not None:
            stored[key] = value
    if not stored.get("eval_env_id"):
        raise GenrlError(f"{run_dir}: the checkpoint names no evaluation environment")
    check_env_id(stored["eval_env_id"], "env.eval_env_id", source=str(run_dir), kwargs=stored.get("kwargs"))
    try:
        return Task(**stored)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _sampling_overrides(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "candidates": args.candidates, "selection": args.selection, "temperature": args.temperature,
        "noise_scale": args.noise_scale, "steps": args.sampling_steps,
    }  # fmt: skip
    return {key: value for key, value in given.items() if value is not None}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
