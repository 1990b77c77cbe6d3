"""load_npz: the reference's custom .npz layout, round trip and episode splitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrl.data import load_npz
from genrl.errors import DatasetError


def chain(rng, length: int, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(obs, next_obs) of one continuous trajectory: next_obs[i] == obs[i + 1]."""
    states = rng.standard_normal((length + 1, 3)).astype(np.float32)
    if start is not None:
        states[0] = start
    return states[:-1], states[1:]


def make_npz_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Episodes: A (4 steps, ends with done=1), B (3 steps, then a jump to elsewhere), C (5, trailing)."""
    rng = np.random.default_rng(seed)
    parts = [chain(rng, 4), chain(rng, 3), chain(rng, 5)]
    obs = np.concatenate([p[0] for p in parts])
    next_obs = np.concatenate([p[1] for p in parts])
    done = np.zeros(12, dtype=np.float32)
    done[3] = 1.0
    return {
        "obs": obs,
        "action": rng.uniform(-1, 1, (12, 2)).astype(np.float32),
        "next_obs": next_obs,
        "reward": (rng.integers(-8, 9, 12) / 4).astype(np.float32),
        "done": done,
    }


def test_round_trip(tmp_path):
    arrays = make_npz_arrays()
    path = tmp_path / "custom.npz"
    np.savez(path, **arrays, extra=np.arange(3))  # extra keys are ignored
    data = load_npz(str(path))
    assert len(data) == 12 and (data.obs_dim, data.action_dim) == (3, 2)
    for name in ("obs", "action", "next_obs", "reward", "done"):
        tensor = getattr(data, name)
        assert tensor.dtype == torch.float32
        np.testing.assert_array_equal(tensor.numpy(), arrays[name])
    assert data.source == str(path) and data.metadata["format"] == "npz"


def test_episode_splitting(tmp_path):
    arrays = make_npz_arrays()
    np.savez(tmp_path / "d.npz", **arrays)
    data = load_npz(str(tmp_path / "d.npz"))
    r = arrays["reward"].astype(np.float64)
    # A ends at done (row 3); B ends where next_obs[6] != obs[7]; C is closed by the end of the arrays
    np.testing.assert_array_equal(data.episode_returns, [r[0:4].sum(), r[4:7].sum(), r[7:12].sum()])


def test_column_shapes_and_int_done(tmp_path):
    arrays = make_npz_arrays()
    arrays["reward"] = arrays["reward"][:, None]
    arrays["done"] = arrays["done"].astype(np.int64)[:, None]
    np.savez(tmp_path / "d.npz", **arrays)
    data = load_npz(str(tmp_path / "d.npz"))
    assert data.reward.shape == data.done.shape == (12,)
    assert data.done.tolist() == [0.0, 0.0, 0.0, 1.0] + [0.0] * 8


def test_missing_key(tmp_path):
    arrays = make_npz_arrays()
    del arrays["next_obs"]
    np.savez(tmp_path / "d.npz", **arrays)
    expected = r"d\.npz: missing key 'next_obs'; expected keys obs, action, next_obs"
    with pytest.raises(DatasetError, match=expected):
        load_npz(str(tmp_path / "d.npz"))
