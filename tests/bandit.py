"""A contextual bandit with a bimodal behaviour policy where only one mode is rewarded.

Context s ~ N(0, I₂); behaviour a ∈ {−1, +1} with equal probability plus N(0, 0.1²) noise; reward 1 when
sign(a) = sign(s₀), else 0. One-step episodes (done = 1). The optimal policy picks the mode matching s₀.
"""

from __future__ import annotations

import numpy as np
import torch

from genrl.critics import IQLCritic
from genrl.data import Transitions
from genrl.data.transitions import IndexSampler
from genrl.models import GenerativeModel
from genrl.networks import DoubleQ, TemporalSpatialResidualNet, ValueNet
from genrl.paths import AffinePath, GVPSchedule, ICFMPath, VPSchedule

MODE_NOISE = 0.1
PATHS = {
    "vpsde": (lambda: AffinePath(VPSchedule()), "noise"),  # GMPO-VPSDE predicts noise (spec §1.6)
    "gvp": (lambda: AffinePath(GVPSchedule()), "velocity"),
    "icfm": (lambda: ICFMPath(0.1), "velocity"),
}


def bandit_data(n: int = 4096, seed: int = 0) -> Transitions:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 2, generator=g)
    mode = torch.randint(0, 2, (n, 1), generator=g).float() * 2 - 1
    action = mode + MODE_NOISE * torch.randn(n, 1, generator=g)
    reward = (torch.sign(action[:, 0]) == torch.sign(obs[:, 0])).float()
    return Transitions(obs, action, reward, obs.clone(), torch.ones(n), episode_returns=np.zeros(0))


def make_model_factory(path_name: str, parameterization: str | None = None):
    path_fn, default_param = PATHS[path_name]

    def make() -> GenerativeModel:
        net = TemporalSpatialResidualNet(1, 2, (64, 32), t_dim=16, cond_hidden_dim=16, t_cond_hidden_dim=32)
        return GenerativeModel(net, path_fn(), parameterization or default_param)

    return make


def make_critic() -> IQLCritic:
    return IQLCritic(
        DoubleQ(2, 1, [64, 64]), ValueNet(2, [64, 64]), lambda p: torch.optim.Adam(p, lr=1e-3),
        epochs=1, batch_size=256, expectile=0.7, discount=0.99, polyak=0.05,
    )  # fmt: skip


def run_phase(phase, data: Transitions, steps: int, seed: int = 0) -> None:
    if phase.on_start is not None:
        phase.on_start(data)
    sampler = IndexSampler(len(data), phase.batch_size, seed)
    for _ in range(steps):
        phase.update(data.batch(sampler.next()))


def rewarded_fraction(model: GenerativeModel, n: int = 500, steps: int = 31) -> tuple[float, np.ndarray]:
    """Fraction of sampled actions on the rewarded mode, over contexts s₀ = ±1, and the actions."""
    obs = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(n, 1), torch.tensor([[-1.0, 0.0]]).repeat(n, 1)])
    with torch.no_grad():
        actions = model.sample(obs, steps=steps)[:, 0]
    hit = (torch.sign(actions) == torch.sign(obs[:, 0])).float().mean().item()
    return hit, actions.numpy()
