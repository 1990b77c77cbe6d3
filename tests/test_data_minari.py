"""load_minari on local datasets built with minari.create_dataset_from_buffers in a temporary root."""

from __future__ import annotations

import warnings

import minari
import numpy as np
import pytest
from gymnasium import spaces
from minari.data_collector import EpisodeBuffer

from genrl.data import load_minari
from genrl.errors import DatasetError

# (steps, terminated): one episode ends by termination, one by truncation
EPISODES = [(5, True), (7, False)]


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def pendulum_episode(index: int, steps: int, terminated: bool, rng) -> EpisodeBuffer:
    """T + 1 Pendulum-shaped observations with obs[:, 0] = episode / 10 and obs[:, 1] = step / 100."""
    obs = np.zeros((steps + 1, 3), dtype=np.float32)
    obs[:, 0] = index / 10
    obs[:, 1] = np.arange(steps + 1) / 100
    obs[:, 2] = rng.uniform(-8, 8, steps + 1)
    return EpisodeBuffer(
        id=index,
        observations=obs,
        actions=rng.uniform(-2, 2, (steps, 1)).astype(np.float32),
        rewards=list(rng.integers(-8, 9, steps) / 4),
        terminations=[False] * (steps - 1) + [terminated],
        truncations=[False] * (steps - 1) + [not terminated],
    )


def create(dataset_id: str, buffers: list[EpisodeBuffer], **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minari warns about missing author, permalink, ...
        minari.create_dataset_from_buffers(dataset_id=dataset_id, buffer=buffers, **kwargs)


def test_pendulum_dataset(minari_root):
    rng = np.random.default_rng(0)
    buffers = [pendulum_episode(i, steps, term, rng) for i, (steps, term) in enumerate(EPISODES)]
    create(
        "test/pendulum/mixed-v0",
        buffers,
        env="Pendulum-v1",
        eval_env="MountainCarContinuous-v0",
        ref_min_score=-1500.0,
        ref_max_score=-150.0,
    )
    data = load_minari("test/pendulum/mixed-v0")
    assert len(data) == 12 and (data.obs_dim, data.action_dim) == (3, 1)
    np.testing.assert_array_equal(data.done.numpy(), [0, 0, 0, 0, 1] + [0] * 7)  # truncation is not done
    np.testing.assert_allclose(data.obs.numpy(), np.concatenate([b.observations[:-1] for b in buffers]))
    np.testing.assert_allclose(data.next_obs.numpy(), np.concatenate([b.observations[1:] for b in buffers]))
    assert bool((data.next_obs[:, 0] == data.obs[:, 0]).all())  # never crosses episodes
    np.testing.assert_allclose(data.action.numpy(), np.concatenate([b.actions for b in buffers]))
    np.testing.assert_array_equal(data.reward.numpy(), np.concatenate([b.rewards for b in buffers]))
    np.testing.assert_array_equal(data.episode_returns, [sum(b.rewards) for b in buffers])
    assert data.metadata["ref_min_score"] == -1500.0 and data.metadata["ref_max_score"] == -150.0
    assert data.metadata["eval_env_id"] == "MountainCarContinuous-v0"
    assert data.metadata["format"] == "minari" and "test/pendulum/mixed-v0" in data.source


def test_dict_observations_flattened(minari_root):
    rng = np.random.default_rng(1)
    obs_space = spaces.Dict({"velocity": spaces.Box(-5, 5, (2,)), "angle": spaces.Box(-1, 1, (1,))})
    steps = 4
    observations = {
        "angle": rng.uniform(-1, 1, (steps + 1, 1)).astype(np.float32),
        "velocity": rng.uniform(-5, 5, (steps + 1, 2)).astype(np.float32),
    }
    buffer = EpisodeBuffer(
        observations=observations,
        actions=rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        rewards=[1.0] * steps,
        terminations=[False] * steps,
        truncations=[False] * (steps - 1) + [True],
    )
    create("test/dict/obs-v0", [buffer], observation_space=obs_space, action_space=spaces.Box(-1, 1, (2,)))
    data = load_minari("test/dict/obs-v0")
    rows = [{key: value[i] for key, value in observations.items()} for i in range(steps + 1)]
    expected = np.stack([spaces.flatten(obs_space, row) for row in rows])
    assert data.obs_dim == 3 and len(data) == steps
    np.testing.assert_allclose(data.obs.numpy(), expected[:-1])
    np.testing.assert_allclose(data.next_obs.numpy(), expected[1:])
    assert data.done.sum().item() == 0.0
    assert data.metadata["eval_env_id"] is None and "ref_min_score" not in data.metadata


def test_missing_local_dataset(minari_root):
    with pytest.raises(DatasetError) as err:
        load_minari("test/absent/none-v0")
    message = str(err.value)
    assert "test/absent/none-v0" in message and str(minari_root) in message and "download=False" in message
    assert "\n" not in message


def test_failed_download(minari_root, monkeypatch):
    def offline(dataset_id, *args, **kwargs):
        raise ConnectionError(f"cannot reach the server for {dataset_id}")

    monkeypatch.setattr(minari.storage.hosting, "download_dataset", offline)
    with pytest.raises(DatasetError) as err:
        load_minari("test/absent/none-v0", download=True)
    message = str(err.value)
    assert "test/absent/none-v0" in message and str(minari_root) in message and "cannot reach" in message
    assert "\n" not in message
