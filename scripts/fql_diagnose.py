"""Where a trained FQL policy μ sits against its teacher and its critic's twins, at dataset states.

    python scripts/fql_diagnose.py RUN_DIR [RUN_DIR ...] [--states 8192] [--noise-scale 0.5]

RUN_DIR is a finished ``train.py algorithm=fql`` run folder (``checkpoint.pt``); the dataset is read again from the
path its config names. Printed per run (docs/benchmarks.md, s39, reads them):

* σ_b²: the teacher's per-dimension variance around the dataset's action, ½·mean (Φ(z; s) − a)², and the teacher's
  own, ½·mean (Φ(z; s) − Φ(z'; s))² (two draws at the same state), with their ratio;
* how far μ is from the teacher, mean ‖μ(s, z) − Φ(z; s)‖² in units of σ_b²;
* the Q gain of μ's acting actions μ(s, τz) over the teacher's, in σ_Q units (σ_Q as FQL's ``q_scale=action_spread``);
* the twins' disagreement mean |Q1 − Q2| at μ's acting actions over that at the dataset's actions (1: Q's twins
  disagree off the data no more than on it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genrl.acting.loading import checkpoint_config
from genrl.algorithms.fql import behaviour_variance, q_spread
from genrl.building import build_algorithm, prepare_data
from genrl.training.checkpoint import load_checkpoint


@torch.no_grad()
def diagnose(run_dir: Path, states: int, noise_scale: float) -> str:
    state = load_checkpoint(run_dir / "checkpoint.pt", map_location="cpu")
    cfg = checkpoint_config(state)
    if cfg.algorithm.name != "fql":
        return f"{run_dir}: algorithm={cfg.algorithm.name}, expected an FQL run"
    meta = state["metadata"]
    prepared = prepare_data(cfg, torch.device("cpu"))
    fql = build_algorithm(cfg, meta["obs_dim"], meta["action_dim"], torch.device("cpu"), prepared.action_box)
    fql.load_state_dict(state["algorithm"])
    torch.manual_seed(0)
    index = torch.randint(0, prepared.data.obs.shape[0], (states,))
    obs, action = prepared.data.obs[index], prepared.data.action[index]
    noise = torch.randn_like(action)
    teacher, other = fql.teacher(obs, noise), fql.teacher(obs, torch.randn_like(action))
    mu, acting = (fql.clamp_to_data(fql.policy(obs, scale * noise)) for scale in (1.0, noise_scale))

    def q_and_gap(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q1, q2 = fql.critic.q(obs, a)
        return 0.5 * (q1 + q2), (q1 - q2).abs().mean()

    (q_data, gap_data), (q_teacher, _), (q_acting, gap_acting) = map(q_and_gap, (action, teacher, acting))
    sigma_b2, own = behaviour_variance(teacher, action), behaviour_variance(teacher, other)
    sigma_q = q_spread(q_teacher, q_data)
    return (
        f"{run_dir}: σ_b² {sigma_b2:.4f}, teacher's own {own:.4f} (ratio {sigma_b2 / own:.2f}); "
        f"‖μ − Φ‖² {(mu - teacher).pow(2).mean() / sigma_b2:.2f} σ_b²; "
        f"Q gain at noise {noise_scale} {(q_acting - q_teacher).mean() / sigma_q:+.2f} σ_Q; "
        f"twins' |Q1 − Q2| μ/data {gap_acting / gap_data:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--states", type=int, default=8192)
    parser.add_argument("--noise-scale", type=float, default=0.5, help="the acting noise τ (recipe=fast: 0.5)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run_dir in args.run_dirs:
        print(diagnose(run_dir, args.states, args.noise_scale), flush=True)


if __name__ == "__main__":
    main()
