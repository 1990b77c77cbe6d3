"""One test per user error: each a one-line DatasetError naming the file, the key and the expectation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete

import genrl.data.d4rl as d4rl_module
from genrl.data import check_against_env, load_d4rl, load_npz
from genrl.errors import DatasetError
from test_data_d4rl import make_d4rl_arrays, write_d4rl

N = 25  # rows of make_d4rl_arrays()
HOPPER_OBS, HOPPER_ACT = Box(-np.inf, np.inf, (4,)), Box(-1.0, 1.0, (2,))


def load_error(tmp_path, **changes) -> str:
    """The message of the DatasetError raised when loading a D4RL file with ``changes`` applied."""
    arrays = make_d4rl_arrays()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = write_d4rl(tmp_path / "bad.hdf5", arrays)
    with pytest.raises(DatasetError) as err:
        load_d4rl(path=str(path))
    message = str(err.value)
    assert str(path) in message and "\n" not in message and "expected" in message
    return message


def env_error(data, obs_space=HOPPER_OBS, act_space=HOPPER_ACT, **kwargs) -> str:
    with pytest.raises(DatasetError) as err:
        check_against_env(data, obs_space, act_space, "Hopper-v4", **kwargs)
    message = str(err.value)
    assert data.source in message and "Hopper-v4" in message and "\n" not in message
    return message


@pytest.fixture
def hopper_like(tmp_path):
    return load_d4rl(path=str(write_d4rl(tmp_path / "ok.hdf5", make_d4rl_arrays())))


def test_missing_key(tmp_path):
    message = load_error(tmp_path, actions=None)
    assert "missing key 'actions'" in message
    assert "expected keys observations, actions, rewards, terminals" in message


def test_mismatched_lengths(tmp_path):
    actions = np.zeros((N - 1, 2), dtype=np.float32)
    message = load_error(tmp_path, actions=actions)
    assert f"key 'actions' has {N - 1} rows but 'observations' has {N}" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("rewards", np.zeros((N, 2)), f"key 'rewards' has shape ({N}, 2); expected (N,) or (N, 1)"),
        ("terminals", np.zeros((N, 1, 1), bool), "key 'terminals' has shape"),
        ("observations", np.zeros(N), f"key 'observations' has shape ({N},); expected a 2-D array"),
        ("actions", np.zeros((N, 2, 1), np.float32), "key 'actions' has shape"),
        (
            "next_observations",
            np.zeros((N, 5), np.float32),
            f"key 'next_observations' has shape ({N}, 5) but 'observations' has ({N}, 4); "
            "expected the same shape",
        ),
    ],
)
def test_bad_shape(tmp_path, key, value, expected):
    assert expected in load_error(tmp_path, **{key: value})


def test_nan(tmp_path, monkeypatch):
    monkeypatch.setattr(d4rl_module, "_BLOCK_ROWS", 4)  # NaNs in different blocks: still one total count
    obs = make_d4rl_arrays()["observations"]
    obs[7, 2] = obs[9, 3] = np.nan
    message = load_error(tmp_path, observations=obs)
    assert "key 'observations' has 2 NaN value(s) (first at row 7); expected finite numbers" in message


def test_inf(tmp_path):
    rewards = make_d4rl_arrays()["rewards"]
    rewards[12] = -np.inf
    message = load_error(tmp_path, rewards=rewards)
    assert "key 'rewards' has 1 infinite value(s) (first at row 12); expected finite numbers" in message


def test_empty_dataset(tmp_path):
    empty = {key: value[:0] for key, value in make_d4rl_arrays().items()}
    message = load_error(tmp_path, **empty)
    assert "key 'observations' has 0 rows; expected at least one transition" in message


def test_only_timeouts(tmp_path):
    message = load_error(tmp_path, timeouts=np.ones(N, dtype=bool))
    assert "key 'timeouts' flags every row" in message


def test_obs_dim_vs_env(hopper_like):
    message = env_error(hopper_like, obs_space=Box(-1.0, 1.0, (11,)))
    assert "key 'observations' has 4 columns; expected 11" in message


def test_action_dim_vs_env(hopper_like):
    message = env_error(hopper_like, act_space=Box(-1.0, 1.0, (3,)))
    assert "key 'actions' has 2 columns; expected 3" in message


def test_action_outside_bounds(hopper_like):
    check_against_env(hopper_like, HOPPER_OBS, Box(-1.0, 1.0, (2,)), "Hopper-v4")  # in bounds: no error
    action = hopper_like.action.clone()
    action[5, 1] = 1.0 + 5e-5  # within the tolerance
    check_against_env(replace(hopper_like, action=action), HOPPER_OBS, HOPPER_ACT, "Hopper-v4")
    action[17, 1] = 1.5
    message = env_error(replace(hopper_like, action=action))
    assert "key 'actions' column 1 reaches 1.5 at row 17" in message and "[-1, 1]" in message
    message = env_error(hopper_like, act_space=Box(-0.5, 0.5, (2,)))
    assert "key 'actions'" in message and "[-0.5, 0.5]" in message


def test_non_box_space(hopper_like):
    message = env_error(hopper_like, act_space=Discrete(3))
    assert "action space is Discrete; expected a gymnasium Box space" in message


@pytest.mark.parametrize("loader", [lambda p: load_d4rl(path=p), load_npz])
def test_missing_file(tmp_path, loader):
    path = str(tmp_path / "nowhere" / "hopper_medium-v2.hdf5")
    with pytest.raises(DatasetError) as err:
        loader(path)
    assert path in str(err.value) and "file not found; expected" in str(err.value)
    assert "\n" not in str(err.value)


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "broken.hdf5"
    path.write_bytes(b"this is not hdf5")
    with pytest.raises(DatasetError) as err:
        load_d4rl(path=str(path))
    assert str(path) in str(err.value) and "expected a D4RL v2 .hdf5 file" in str(err.value)
    assert "\n" not in str(err.value)
