"""Can a run's checkpoint be chosen offline? Each evaluated checkpoint's online score beside what the data and the
critic say of its policy, and how well each offline signal ranks the checkpoints.

    python train.py ... checkpoint.keep_evaluations=true budget.evaluations=10 eval.episodes=30
    python scripts/checkpoint_signals.py RUN_DIR [--states 4096] [--json signals.jsonl]

RUN_DIR holds ``checkpoint.<phase>-<step>.pt`` (``checkpoint.keep_evaluations=true``); each one's evaluation is the
last entry of its own evaluation history. Per checkpoint, on the same ``--states`` dataset states (seed 0) and the same
acting noise (seed 0):

* ``advantage``: the critic's A(s, π(s))/σ_A of the acting policy's action (the critic at that checkpoint);
* ``action_error``: mean ‖π(s) − a‖² to the dataset's action;
* ``action_step``: mean ‖π(s_{t+1}) − π(s_t)‖² over consecutive dataset states of one episode, in units of the
  data's own mean ‖a_{t+1} − a_t‖² (how jerky the policy is where the data is smooth).

Then Spearman's ρ of each signal with the online score over the checkpoints (scipy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf
from scipy.stats import spearmanr

from genrl.acting.loading import load_acting_policy
from genrl.building import build_algorithm, prepare_data
from genrl.config import Config, plain, upgraded_config
from genrl.training.checkpoint import load_checkpoint

SIGNALS = ("advantage", "action_error", "action_step")


def kept_states(run_dir: Path) -> list[tuple[Path, dict]]:
    """``checkpoint.<phase>-<step>.pt`` files and their states, in training order (by evaluation history length)."""
    paths = [p for p in run_dir.glob("checkpoint.*-*.pt") if p.stem.rsplit("-", 1)[1].isdigit()]
    return sorted(((p, load_checkpoint(p)) for p in paths), key=lambda kept: len(kept[1]["evaluations"]))


def signals(path: Path, state: dict, prepared, states: int) -> dict:
    """The offline signals of one kept checkpoint on the run's prepared data (read once for all checkpoints)."""
    cfg = plain(OmegaConf.merge(OmegaConf.structured(Config), upgraded_config(state["metadata"]["config"])))
    data = prepared.data
    algorithm = build_algorithm(cfg, data.obs_dim, data.action_dim, torch.device("cpu"), prepared.action_box)
    algorithm.load_state_dict(state["algorithm"])
    critic = algorithm.critic
    _, acting = load_acting_policy(state, "cpu")
    norm = prepared.normalizer

    def act(obs: torch.Tensor) -> torch.Tensor:  # the acting policy reads raw observations
        torch.manual_seed(0)
        return acting(obs if norm is None else obs * norm.std + norm.mean)

    index = torch.randperm(len(data) - 1, generator=torch.Generator().manual_seed(0))[:states]
    follows = torch.isclose(data.next_obs[index], data.obs[index + 1], atol=1e-5).all(dim=1)
    index = index[follows]  # s_t whose next row is s_{t+1} of the same episode
    with torch.no_grad():
        sigma = float((critic.q.min_q(data.obs, data.action) - critic.v(data.obs)).std())
        actions, next_actions = act(data.obs[index]), act(data.obs[index + 1])
        advantage = critic.q.min_q(data.obs[index], actions) - critic.v(data.obs[index])
    data_step = (data.action[index + 1] - data.action[index]).pow(2).sum(1).mean()
    evaluation = state["evaluations"][-1]
    return {
        "checkpoint": path.name, "step": evaluation["step"], "score": evaluation["score"],
        "length": evaluation.get("length_mean"), "advantage": float(advantage.mean()) / sigma,
        "action_error": float((actions - data.action[index]).pow(2).sum(1).mean()),
        "action_step": float((next_actions - actions).pow(2).sum(1).mean() / data_step),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run folder trained with checkpoint.keep_evaluations=true")
    parser.add_argument("--states", type=int, default=4096, help="dataset states the policies are probed on")
    parser.add_argument("--json", type=Path, help="append one JSON line per checkpoint here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    kept = kept_states(args.run_dir)
    if len(kept) < 3:
        raise SystemExit(f"error: {args.run_dir}: {len(kept)} kept evaluation checkpoint(s); expected ≥ 3 "
                         "(train with checkpoint.keep_evaluations=true and budget.evaluations ≥ 3)")  # fmt: skip
    first = kept[0][1]["metadata"]["config"]
    cfg = plain(OmegaConf.merge(OmegaConf.structured(Config), upgraded_config(first)))
    prepared = prepare_data(cfg, torch.device("cpu"))  # one run: the same data for every checkpoint
    rows = [signals(path, state, prepared, args.states) for path, state in kept]
    print("| step | score | length | " + " | ".join(SIGNALS) + " |")
    print("|---" * (3 + len(SIGNALS)) + "|")
    for r in rows:
        print(f"| {r['step']} | {r['score']:.1f} | {r['length']:.0f} | "
              + " | ".join(f"{r[s]:.4g}" for s in SIGNALS) + " |")  # fmt: skip
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps({"run": str(args.run_dir), **r}) + "\n")
    scores = [r["score"] for r in rows]
    for s in SIGNALS:
        rho = spearmanr([r[s] for r in rows], scores).statistic
        print(f"Spearman ρ({s}, score) = {rho:+.2f} over {len(rows)} checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
