"""IQL on a small chain MDP recovers the exact expectile values (spec §4)."""

import numpy as np
import pytest
import torch

from genrl.critics import IQLCritic, expectile_loss
from genrl.data import Transitions
from genrl.data.transitions import IndexSampler
from genrl.networks import DoubleQ, ValueNet

N_STATES, ACTIONS, GAMMA, TAU = 4, (-1.0, 0.0, 1.0), 0.9, 0.7
REWARD_WEIGHT = np.array([1.0, -2.0, 0.5, 3.0])  # r(i, a) = w_i·a + 0.1·i


def expectile(values: np.ndarray, tau: float) -> float:
    """τ-expectile of a uniform discrete distribution: the root of Σ|τ − 1{q < m}|(q − m) = 0 (bisection)."""
    lo, hi = values.min(), values.max()
    for _ in range(200):
        m = 0.5 * (lo + hi)
        g = np.sum(np.where(values < m, 1 - tau, tau) * (values - m))
        lo, hi = (m, hi) if g > 0 else (lo, m)
    return 0.5 * (lo + hi)


def reward(i: int, a: float) -> float:
    return REWARD_WEIGHT[i] * a + 0.1 * i


def exact_values() -> tuple[np.ndarray, np.ndarray]:
    """Q(i, a) = r(i, a) + γ·V(i+1) (the last state is terminal), V(i) = τ-expectile_a Q(i, a)."""
    v, q = np.zeros(N_STATES + 1), np.zeros((N_STATES, len(ACTIONS)))
    for i in reversed(range(N_STATES)):
        q[i] = [reward(i, a) + (GAMMA * v[i + 1] if i < N_STATES - 1 else 0.0) for a in ACTIONS]
        v[i] = expectile(q[i], TAU)
    return q, v[:N_STATES]


def chain_dataset() -> Transitions:
    """Every (state, action) pair 25 times: the behaviour policy is uniform over ACTIONS."""
    eye = np.eye(N_STATES, dtype=np.float32)
    rows = [(i, a) for i in range(N_STATES) for a in ACTIONS] * 25
    obs = np.stack([eye[i] for i, _ in rows])
    nxt = np.stack([eye[min(i + 1, N_STATES - 1)] for i, _ in rows])
    t = torch.as_tensor
    return Transitions(
        obs=t(obs),
        action=t(np.array([[a] for _, a in rows], dtype=np.float32)),
        reward=t(np.array([reward(i, a) for i, a in rows], dtype=np.float32)),
        next_obs=t(nxt),
        done=t(np.array([float(i == N_STATES - 1) for i, _ in rows], dtype=np.float32)),
        episode_returns=np.zeros(0),
    )


def test_expectile_loss_minimiser_is_the_expectile():
    values = torch.tensor([0.0, 1.0, 5.0])
    m = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([m], lr=0.05)
    for _ in range(2000):
        opt.zero_grad()
        expectile_loss(values - m, 0.8).mean().backward()
        opt.step()
    assert m.item() == pytest.approx(expectile(values.numpy(), 0.8), abs=1e-3)
    assert expectile(values.numpy(), 0.5) == pytest.approx(2.0, abs=1e-9)  # τ = ½ is the mean


@pytest.mark.parametrize("v_target", ["updated", "pre_update"])
def test_iql_recovers_chain_expectile_values(v_target):
    torch.manual_seed(0)
    data = chain_dataset()
    critic = IQLCritic(
        DoubleQ(N_STATES, 1, [64, 64]), ValueNet(N_STATES, [64, 64]),
        lambda params: torch.optim.Adam(params, lr=3e-3), epochs=1, batch_size=120,
        expectile=TAU, discount=GAMMA, polyak=0.05, v_target=v_target,
    )  # fmt: skip
    sampler = IndexSampler(len(data), 120, seed=0)
    for _ in range(2000):
        critic.update(data.batch(sampler.next()))
    q_true, v_true = exact_values()
    states = torch.eye(N_STATES)
    with torch.no_grad():
        v = critic.v(states).numpy()
        q = np.stack([critic.q.min_q(states, torch.full((N_STATES, 1), a)).numpy() for a in ACTIONS], 1)
    # min(Q1, Q2) is biased a little low; values are O(1) and the expectile exceeds the mean by > 0.1
    np.testing.assert_allclose(v, v_true, atol=0.08)
    np.testing.assert_allclose(q, q_true, atol=0.08)
    # the expectile sits strictly above the mean: IQL's optimism over in-distribution actions
    assert (v_true > q_true.mean(1) + 0.1).all()
