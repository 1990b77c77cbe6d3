"""``genrl-reference ENV_ID``: measure the reference returns R_min, R_max that normalise a task's scores.

R_min is the mean return of a uniformly random policy; R_max the mean return of a competent one: Gymnasium's
scripted lander (``--expert heuristic``, LunarLander only) or the best episodes of your dataset (``--dataset FILE``,
the mean of its top ``--top`` fraction of episode returns). Episode i of each policy resets with ``--seed`` + i.
Prints a JSON summary and, on stderr, the overrides to paste: ``env.ref_min_score=… env.ref_max_score=…``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from genrl.config_checks import check_env_id
from genrl.data import load_d4rl, load_npz
from genrl.errors import ConfigError, GenrlError, one_line
from genrl.evaluation import make_env
from genrl.io import closed_pipe_safe

EXPERTS = ("heuristic",)

EPILOG = """examples:
  genrl-reference LunarLander-v3 --kwargs '{continuous: true}' --expert heuristic  # env=lunarlander-continuous
  genrl-reference Hopper-v5 --dataset hopper.npz --top 0.1      # R_max: the mean of the dataset's best 10% episodes
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genrl-reference", description=__doc__.split("\n\n")[1], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("env_id", help="the Gymnasium id evaluated on (env.eval_env_id)")
    parser.add_argument("--kwargs", default="{}", help="env.kwargs as YAML/JSON, e.g. '{continuous: true}'")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per policy (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="episode i resets with SEED + i (default 0)")
    parser.add_argument("--max-episode-steps", type=int, help="cap episodes (default: the env's own time limit)")
    competent = parser.add_mutually_exclusive_group(required=True)
    competent.add_argument("--expert", choices=EXPERTS, help="heuristic: Gymnasium's scripted LunarLander pilot")
    competent.add_argument("--dataset", type=Path, help="an .npz (obs, action, …) or D4RL .hdf5 file")
    parser.add_argument("--top", type=float, default=0.1, help="with --dataset: the fraction of best episodes")
    return parser


@closed_pipe_safe
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = measure(args)
    except GenrlError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    print(f"env.ref_min_score={summary['ref_min_score']:.2f} env.ref_max_score={summary['ref_max_score']:.2f}",
          file=sys.stderr)  # fmt: skip
    return 0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    kwargs = _kwargs(args.kwargs)
    if args.episodes < 1 or not 0 < args.top <= 1:
        raise ConfigError(f"--episodes {args.episodes} --top {args.top}: expected episodes >= 1 and top in (0, 1]")
    check_env_id(args.env_id, "ENV_ID", kwargs=kwargs)
    env = make_env(args.env_id, args.max_episode_steps, kwargs)
    try:
        env.action_space.seed(args.seed)
        random = _returns(env, lambda obs: env.action_space.sample(), args.episodes, args.seed)
        if args.expert is not None:
            pilot = _expert(env, args.env_id, args.expert)
            competent, how = _returns(env, pilot, args.episodes, args.seed), f"expert={args.expert}"
        else:
            competent, how = _dataset_best(args.dataset, args.top), f"dataset={args.dataset} top={args.top}"
    finally:
        env.close()
    ref_min, ref_max = float(np.mean(random)), float(np.mean(competent))
    if ref_max <= ref_min:
        raise GenrlError(f"{how}: the competent return {ref_max:.2f} does not exceed the random one {ref_min:.2f}")
    return {
        "eval_env_id": args.env_id, "kwargs": kwargs, "episodes": args.episodes, "seed": args.seed,
        "max_episode_steps": args.max_episode_steps, "ref_min_score": ref_min, "ref_max_score": ref_max,
        "random": {"policy": "uniform random actions", **_stats(random)},
        "competent": {"policy": how, **_stats(competent)},
    }  # fmt: skip


def _kwargs(text: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--kwargs {text}: not YAML ({one_line(err)})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--kwargs {text}: expected a mapping, e.g. '{{continuous: true}}'")
    return value


def _returns(env: Any, act: Callable[[np.ndarray], Any], episodes: int, seed: int) -> np.ndarray:
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        out.append(total)
    return np.asarray(out)


def _expert(env: Any, env_id: str, name: str) -> Callable[[np.ndarray], Any]:
    if name == "heuristic":
        if not env_id.startswith("LunarLander"):
            raise ConfigError(f"--expert heuristic: Gymnasium's scripted pilot flies LunarLander only, not {env_id}")
        heuristic = sys.modules[type(env.unwrapped).__module__].heuristic  # gymnasium/envs/box2d/lunar_lander.py
        return lambda obs: heuristic(env.unwrapped, obs)
    raise ConfigError(f"--expert {name}: expected one of {', '.join(EXPERTS)}")


def _dataset_best(path: Path, top: float) -> np.ndarray:
    data = load_d4rl(path=str(path)) if path.suffix in (".hdf5", ".h5") else load_npz(str(path))
    returns = np.sort(np.asarray(data.episode_returns, dtype=float))[::-1]
    if returns.size == 0:
        raise GenrlError(f"{path}: no complete episode, so no best episodes to measure")
    return returns[: max(1, round(top * returns.size))]


def _stats(returns: np.ndarray) -> dict[str, Any]:
    return {"return_mean": float(returns.mean()), "return_std": float(returns.std()), "n": int(returns.size)}


if __name__ == "__main__":
    sys.exit(main())
