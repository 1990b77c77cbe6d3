"""How many Euler steps does GMPG's gradient path need? Gradient fidelity and cost versus steps.

    python scripts/bench_grad_steps.py [--batch 256] [--reference-steps 256]

Trains μ (behaviour cloning) and the IQL critic on the bundled demo dataset, sets π = μ and perturbs π a little
(as after some policy-gradient updates), then computes GMPG's policy gradient on one fixed batch with fixed noise
for several step counts K. Reports the cosine similarity of each gradient with the one at ``--reference-steps``
(a stand-in for the reference's 999), the relative error of the loss, and seconds per iteration.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from hydra import compose, initialize_config_dir

import genrl.config  # noqa: F401
from genrl.building import build_algorithm, prepare_data
from genrl.data.transitions import IndexSampler

CONF = __import__("pathlib").Path(__file__).resolve().parents[1] / "conf"


def flat_grad(gmpg, obs: torch.Tensor, steps: int, noise: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    gmpg.grad_steps = steps
    sample = gmpg.policy.sample_with_log_prob
    gmpg.policy.sample_with_log_prob = lambda o, k, **kw: sample(o, k, x_0=noise, **kw)
    gmpg.optimizer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    loss, _ = gmpg.policy_loss(obs)
    loss.backward()
    elapsed = time.perf_counter() - start
    gmpg.policy.sample_with_log_prob = sample
    return torch.cat([p.grad.flatten() for p in gmpg.policy.parameters()]), loss.item(), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reference-steps", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    args = parser.parse_args()
    torch.manual_seed(0)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["algorithm=gmpg", "logger=none", "net.hidden_sizes=[256,128,64]"])
    data = prepare_data(cfg, torch.device("cpu")).data  # reward-transformed as for training
    gmpg = build_algorithm(cfg, data.obs_dim, data.action_dim, torch.device("cpu"))
    gmpg.behaviour_optimizer = torch.optim.Adam(gmpg.behaviour.parameters(), lr=1e-3)
    gmpg.critic.q_optimizer.param_groups[0]["lr"] = gmpg.critic.v_optimizer.param_groups[0]["lr"] = 1e-3
    sampler = IndexSampler(len(data), 256, seed=0)
    for _ in range(3000):
        batch = data.batch(sampler.next())
        gmpg.update_behaviour(batch)
        gmpg.critic.update(batch)
    gmpg.start_policy(data)
    with torch.no_grad():  # a policy a few updates away from μ
        for p in gmpg.policy.parameters():
            p.add_(0.01 * (p.std() if p.numel() > 1 else p.abs()) * torch.randn_like(p))
    obs = data.obs[: args.batch]
    noise = torch.randn(args.batch, data.action_dim)
    reference, ref_loss, _ = flat_grad(gmpg, obs, args.reference_steps, noise)
    rows = []
    for steps in args.steps:
        grad, loss, seconds = flat_grad(gmpg, obs, steps, noise)
        cosine = torch.nn.functional.cosine_similarity(grad, reference, dim=0).item()
        error = abs(loss - ref_loss) / abs(ref_loss)
        rows.append({"steps": steps, "cosine_to_reference": cosine, "loss_rel_error": error, "seconds": seconds})
        print(f"K={steps:4d}  cos={cosine:.4f}  loss error={error:.2e}  {seconds:.2f} s/it", flush=True)
    print(json.dumps({"batch": args.batch, "reference_steps": args.reference_steps, "rows": rows}))


if __name__ == "__main__":
    main()
