"""Reward transforms (spec §7) against straightforward reference loops, and IndexSampler's stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrl.data import IndexSampler, Transitions, iql_return_range, transform_rewards
from genrl.data.rewards import episode_returns


def reference_return_range(rewards, dones, max_episode_steps: int = 1000) -> tuple[float, float]:
    """The reference loop: sum rewards, close at done or at max_episode_steps; drop the unfinished tail."""
    returns, ret, length = [], 0.0, 0
    for r, d in zip(rewards, dones, strict=True):
        ret += float(r)
        length += 1
        if d or length == max_episode_steps:
            returns.append(ret)
            ret, length = 0.0, 0
    return min(returns), max(returns)


@pytest.mark.parametrize(
    ("seed", "n", "done_prob", "max_steps"),
    [
        (0, 5000, 0.0005, 1000),
        (1, 4321, 0.002, 1000),
        (2, 3000, 0.05, 7),
        (3, 2500, 0.0, 1000),
        (4, 500, 0.3, 1),
    ],
)
def test_iql_return_range_matches_reference_loop(seed, n, done_prob, max_steps):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(1.0, 2.0, n).astype(np.float32)
    dones = (rng.random(n) < done_prob).astype(np.float32)
    low, high = iql_return_range(rewards, dones, max_steps)
    ref_low, ref_high = reference_return_range(rewards, dones, max_steps)
    assert low == pytest.approx(ref_low, rel=1e-9, abs=1e-9)
    assert high == pytest.approx(ref_high, rel=1e-9, abs=1e-9)


def test_iql_return_range_window_edges():
    rewards = np.arange(3500, dtype=np.float64) % 7
    dones = np.zeros(3500)
    dones[[999, 1500, 3499]] = 1  # done exactly at a full window, mid-window, and on the last row
    assert iql_return_range(rewards, dones) == pytest.approx(reference_return_range(rewards, dones))
    with pytest.raises(ValueError):
        iql_return_range(np.ones(999), np.zeros(999))  # only an unfinished window


def test_episode_returns_trailing_segment():
    rewards, ends = np.arange(1.0, 11.0), np.zeros(10)
    ends[[2, 5]] = 1
    np.testing.assert_array_equal(episode_returns(rewards, ends, include_trailing=False), [6.0, 15.0])
    np.testing.assert_array_equal(episode_returns(rewards, ends, include_trailing=True), [6.0, 15.0, 34.0])
    assert len(episode_returns(rewards, np.zeros(10), include_trailing=False)) == 0


def make_transitions(seed: int = 0, n: int = 3000) -> Transitions:
    rng = np.random.default_rng(seed)
    done = torch.from_numpy((rng.random(n) < 0.002).astype(np.float32))
    return Transitions(
        obs=torch.randn(n, 3),
        action=torch.rand(n, 2) * 2 - 1,
        reward=torch.from_numpy(rng.normal(2.0, 1.0, n).astype(np.float32)),
        next_obs=torch.randn(n, 3),
        done=done,
        episode_returns=np.zeros(0),
    )


def test_locomotion_transform():
    data = make_transitions()
    low, high = reference_return_range(data.reward.numpy(), data.done.numpy())
    scaled = transform_rewards(data, "locomotion")
    torch.testing.assert_close(scaled.reward, data.reward * (1000.0 / (high - low)))
    assert scaled.obs is data.obs and scaled.done is data.done


def test_antmaze_and_none_transforms():
    data = make_transitions()
    torch.testing.assert_close(transform_rewards(data, "antmaze").reward, data.reward - 1.0)
    assert transform_rewards(data, "none") is data
    with pytest.raises(ValueError, match="unknown reward transform"):
        transform_rewards(data, "normalize")


def take(sampler: IndexSampler, batches: int) -> list[torch.Tensor]:
    return [sampler.next() for _ in range(batches)]


def test_sampler_every_index_once_per_pass():
    size, batch_size = 10, 3
    batches = take(IndexSampler(size, batch_size, seed=0), 20)
    assert all(batch.shape == (batch_size,) and batch.dtype == torch.long for batch in batches)
    stream = torch.cat(batches)
    for start in range(0, 60, size):  # 6 complete passes over 10 indices in 60 draws
        assert sorted(stream[start : start + size].tolist()) == list(range(size))
    assert not torch.equal(stream[:size], stream[size : 2 * size])  # a fresh permutation per pass


def test_sampler_deterministic_from_seed():
    first, again = take(IndexSampler(100, 16, seed=7), 12), take(IndexSampler(100, 16, seed=7), 12)
    other = take(IndexSampler(100, 16, seed=8), 12)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_sampler_state_dict_continues_stream():
    sampler = IndexSampler(50, 16, seed=3)
    take(sampler, 5)  # mid-pass: 80 draws = 1 pass + 30 of the next
    state = sampler.state_dict()
    expected = take(sampler, 9)
    resumed = IndexSampler(50, 16, seed=999)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(take(resumed, 9), expected, strict=True))
    assert sampler.steps_per_epoch() == 4
