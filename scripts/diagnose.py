"""What limits a trained run: its critic, its advantage weights, its policy fit, its budget, its evaluation noise.

    python scripts/diagnose.py RUN_DIR [RUN_DIR ...] [--states 4096] [--json diag.jsonl]

RUN_DIR is a finished (or interrupted) ``train.py`` run folder (``config.yaml`` + ``checkpoint.pt``); the
dataset is read again from the path its config names. Printed per run (docs/diagnostics.md reads them):

* data: transitions, episodes, how many end in a terminal (a fall) and how many are truncated;
* critic: V's plateau (mean V over the last quarter of the critic phase vs the quarter before), Q of the
  dataset's actions against the data's own discounted Monte-Carlo returns G_t (Pearson r, relative bias), and
  whether A = Q − V carries signal: corr(A, G − V) over transitions whose return is known to within 5 %;
* weights: σ_A, quantiles of A/σ_A, and for several β the effective sample fraction
  (Σw)²/(n·Σw²) of w = min(exp(β·A/σ_A), W_max) and the fraction clipped at W_max;
* policy: the acting policy's action on dataset states — its squared error to the dataset action and its
  advantage A(s, π(s))/σ_A under the critic (> 0: the critic thinks the policy improved on the data);
* budget and noise: the evaluation curve and the final evaluation's standard error over episodes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from genrl.acting.loading import load_acting_policy
from genrl.building import build_algorithm, prepare_data
from genrl.config import Config, plain, upgraded_config
from genrl.critics.advantage_scale import effective_sample_fraction
from genrl.training.checkpoint import load_checkpoint

#: Transitions within this many steps of a time-limit truncation have an unknown tail: γ^300 < 5 % at γ = 0.99.
TAIL_STEPS = 300
BETAS = (0.25, 0.5, 1.0, 2.0, 4.0)


def episode_ends(next_obs: torch.Tensor, obs: torch.Tensor, done: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(terminal, truncated) boolean arrays: a transition ends an episode by a terminal, or its next state is not
    the next row's state (a dropped time-limit row or the end of the file)."""
    n = len(obs)
    continues = np.zeros(n, dtype=bool)
    continues[:-1] = torch.isclose(next_obs[:-1], obs[1:], atol=1e-5).all(dim=1).cpu().numpy()
    terminal = done.cpu().numpy() > 0.5
    return terminal, ~continues & ~terminal


def discounted_returns(reward: np.ndarray, terminal: np.ndarray, truncated: np.ndarray, gamma: float):
    """G_t = r_t + γ·G_{t+1} within episodes (0 after a terminal or a truncation), and whether G_t is exact to
    within γ^TAIL_STEPS (not within TAIL_STEPS steps before a truncation)."""
    n = len(reward)
    returns, known = np.zeros(n), np.zeros(n, dtype=bool)
    g, steps_to_truncation = 0.0, math.inf
    for t in range(n - 1, -1, -1):
        if terminal[t]:
            g, steps_to_truncation = 0.0, math.inf
        elif truncated[t]:
            g, steps_to_truncation = 0.0, 0
        g = reward[t] + gamma * g
        returns[t], known[t] = g, steps_to_truncation >= TAIL_STEPS
        steps_to_truncation += 1
    return returns, known


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else math.nan


def critic_curve(metrics: list[dict]) -> dict[str, float]:
    """Mean V' over the last quarter of the critic phase, the quarter before, and the relative change."""
    v = [r["v_next_mean"] for r in metrics if r.get("event") == "train" and r.get("phase") == "critic"]
    if len(v) < 8:
        return {}
    q = len(v) // 4
    last, before = float(np.mean(v[-q:])), float(np.mean(v[-2 * q : -q]))
    return {"v_last_quarter": last, "v_previous_quarter": before, "v_relative_change": (last - before) / abs(before)}


def diagnose(run_dir: Path, states: int) -> dict:
    state = load_checkpoint(run_dir / "checkpoint.pt")
    if state is None:
        raise SystemExit(f"error: {run_dir}: no checkpoint.pt")
    meta = state["metadata"]
    cfg = plain(OmegaConf.merge(OmegaConf.structured(Config), upgraded_config(meta["config"])))
    torch.manual_seed(0)
    prepared = prepare_data(cfg, torch.device("cpu"))
    data = prepared.data
    algorithm = build_algorithm(cfg, data.obs_dim, data.action_dim, torch.device("cpu"), prepared.action_box)
    algorithm.load_state_dict(state["algorithm"])
    critic = algorithm.critic
    if not hasattr(critic, "v"):  # A = Q − V needs a state value
        raise SystemExit(f"error: {run_dir}: critic={cfg.critic.name} has no state value V; diagnose.py reads the "
                         "IQL critic (critic=iql: GMPO, GMPG, BC, IQL, IDQL, SRPO)")  # fmt: skip
    out: dict = {"run": str(run_dir), "env": cfg.env.name, "algorithm": cfg.algorithm.name, "path": cfg.path.name}

    terminal, truncated = episode_ends(data.next_obs, data.obs, data.done)
    out["data"] = {"transitions": len(data), "episodes": int(terminal.sum() + truncated.sum()),
                   "terminal_episodes": int(terminal.sum()), "truncated_episodes": int(truncated.sum()),
                   "dataset_score": prepared.dataset_score}  # fmt: skip

    with torch.no_grad():
        q = torch.cat([critic.q.min_q(o, a) for o, a in zip(data.obs.split(65536), data.action.split(65536))])
        v = torch.cat([critic.v(o) for o in data.obs.split(65536)])
    q, v = q.double().numpy(), v.double().numpy()
    adv = q - v
    g, known = discounted_returns(data.reward.double().numpy(), terminal, truncated, cfg.critic.discount)
    sigma = float(adv.std())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    out["critic"] = {
        **critic_curve(metrics),
        "mc_known_fraction": float(known.mean()),
        "q_vs_mc_r": corr(q[known], g[known]),
        "q_vs_mc_relative_bias": float(np.mean(q[known] - g[known]) / np.mean(np.abs(g[known]))),
        "v_mean": float(v.mean()),
        "advantage_signal_r": corr(adv[known], (g - v)[known]),  # does A rank actions like their real returns?
        # what an exact A would reach, if G − Q were noise independent of A: std(A) / std(G − V)
        "advantage_signal_ceiling": float(adv[known].std() / (g - v)[known].std()),
        "terminal_v_next_mean": float(critic.v(data.next_obs[torch.from_numpy(terminal)]).mean().detach())
        if terminal.any()
        else math.nan,
    }
    z = adv / sigma
    levels = (0.01, 0.05, 0.5, 0.95, 0.99)
    quantiles = {f"{q:.0%}": round(float(x), 3) for q, x in zip(levels, np.quantile(z, levels))}
    weights = {"sigma_A": sigma, "quantiles_A_over_sigma": quantiles}
    max_weight = float(OmegaConf.select(cfg, "algorithm.max_weight", default=100.0) or 100.0)
    for beta in BETAS:
        log_w = torch.from_numpy(np.minimum(beta * z, math.log(max_weight)))
        weights[f"beta={beta}"] = {"ess_fraction": effective_sample_fraction(log_w),
                                   "clipped_fraction": float((beta * z > math.log(max_weight)).mean())}  # fmt: skip
    out["weights"] = weights

    index = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:states]
    _, acting = load_acting_policy(state, "cpu")
    norm = prepared.normalizer  # the acting policy normalises raw observations itself
    obs_raw = data.obs[index] if norm is None else data.obs[index] * norm.std + norm.mean
    with torch.no_grad():
        actions = acting(obs_raw)
        policy_adv = critic.q.min_q(data.obs[index], actions) - critic.v(data.obs[index])
    out["policy"] = {
        "action_mse_to_data": float((actions - data.action[index]).pow(2).sum(1).mean()),
        "policy_advantage_over_sigma": float(policy_adv.mean() / sigma),
        "data_advantage_over_sigma": float(adv[index.numpy()].mean() / sigma),
    }
    evals = [r for r in metrics if r.get("event") == "eval" and "score" in r]
    final = evals[-1] if evals else {}
    episodes = cfg.eval.final_episodes if final.get("final") else cfg.eval.episodes
    out["evaluation"] = {
        "curve": [(r["step"], round(r["score"], 1), round(r.get("length_mean", math.nan))) for r in evals],
        "final_score": final.get("score"),
        "final_standard_error": final.get("score_std", math.nan) / math.sqrt(episodes) if final else math.nan,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders")
    parser.add_argument("--states", type=int, default=4096, help="dataset states the acting policy is probed on")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per run here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for run in args.runs:
        result = diagnose(run, args.states)
        print(json.dumps(result, indent=1))
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
