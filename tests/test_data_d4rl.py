"""load_d4rl on synthesized D4RL-layout HDF5 files: qlearning semantics, returns, fallback, verified download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import genrl.data.d4rl as d4rl_module
from conftest import CONF
from genrl.data import D4RL_BASE_URL, load_d4rl
from genrl.errors import ChecksumError, DatasetError

OBS_DIM, ACT_DIM = 4, 2
# (length, how the episode ends): rows 0-4 | 5-11 | 12-15 | 16-21 | 22-24 (trailing, no flag)
EPISODES = [(5, "terminal"), (7, "timeout"), (4, "both"), (6, "terminal"), (3, "none")]


def make_d4rl_arrays(episodes=EPISODES, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw arrays in D4RL's layout. obs[:, 0] = episode index, obs[:, 1] = step, so crossings are visible."""
    rng = np.random.default_rng(seed)
    obs, next_obs, terminals, timeouts = [], [], [], []
    for index, (length, end) in enumerate(episodes):
        states = np.zeros((length + 1, OBS_DIM), dtype=np.float32)
        states[:, 0] = index
        states[:, 1] = np.arange(length + 1)
        states[:, 2:] = rng.standard_normal((length + 1, OBS_DIM - 2))
        obs.append(states[:-1])
        next_obs.append(states[1:])
        flags = np.zeros((2, length), dtype=bool)
        flags[0, -1] = end in ("terminal", "both")
        flags[1, -1] = end in ("timeout", "both")
        terminals.append(flags[0])
        timeouts.append(flags[1])
    n = sum(length for length, _ in episodes)
    return {
        "observations": np.concatenate(obs),
        "next_observations": np.concatenate(next_obs),
        "actions": rng.uniform(-1, 1, (n, ACT_DIM)).astype(np.float32),
        "rewards": (rng.integers(1, 9, n) / 4).astype(np.float32),  # positive quarters: exact sums
        "terminals": np.concatenate(terminals),
        "timeouts": np.concatenate(timeouts),
    }


def write_d4rl(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """An HDF5 file with D4RL's top-level keys plus its infos/ and metadata/ groups."""
    n = len(arrays["observations"])
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        f.create_dataset("infos/action_log_probs", data=np.zeros(n, dtype=np.float32))
        f.create_dataset("infos/qpos", data=np.zeros((n, 3), dtype=np.float32))
        f.create_dataset("infos/qvel", data=np.zeros((n, 3), dtype=np.float32))
        f.create_dataset("metadata/algorithm", data="SAC")
        f.create_dataset("metadata/policy/fc0/weight", data=np.zeros((2, 2), dtype=np.float32))
    return path


@pytest.fixture(params=[4, 7, 1 << 16], ids=lambda rows: f"block{rows}")
def block_rows(request, monkeypatch):
    """Read large keys in blocks of this many rows: block boundaries fall inside and between episodes."""
    monkeypatch.setattr(d4rl_module, "_BLOCK_ROWS", request.param)
    return request.param


def test_qlearning_semantics_exact(tmp_path, block_rows):
    arrays = make_d4rl_arrays()
    data = load_d4rl(path=str(write_d4rl(tmp_path / "hopper_medium-v2.hdf5", arrays)))
    # 25 rows, timeouts at rows 11 and 15 (15 is also terminal) are dropped; trailing row 24 is kept
    kept = np.array([i for i in range(25) if i not in (11, 15)])
    assert len(data) == 23
    assert (data.obs_dim, data.action_dim) == (OBS_DIM, ACT_DIM)
    for name in ("obs", "action", "reward", "next_obs", "done"):
        assert getattr(data, name).dtype == torch.float32 and getattr(data, name).device.type == "cpu"
    assert data.reward.shape == data.done.shape == (23,)
    np.testing.assert_array_equal(data.obs.numpy(), arrays["observations"][kept])
    np.testing.assert_array_equal(data.next_obs.numpy(), arrays["next_observations"][kept])
    np.testing.assert_array_equal(data.action.numpy(), arrays["actions"][kept])
    np.testing.assert_array_equal(data.reward.numpy(), arrays["rewards"][kept])
    np.testing.assert_array_equal(data.done.numpy(), arrays["terminals"][kept].astype(np.float32))
    assert data.done.sum().item() == 2.0  # rows 4 and 21; row 15's terminal was a timeout too
    same_episode = data.next_obs[:, 0] == data.obs[:, 0]
    assert bool(same_episode.all()) and bool((data.next_obs[:, 1] == data.obs[:, 1] + 1).all())
    assert data.source.endswith("hopper_medium-v2.hdf5")
    assert data.metadata["format"] == "d4rl" and data.metadata["file"] == data.source


def test_episode_returns_from_raw_rows(tmp_path):
    arrays = make_d4rl_arrays()
    data = load_d4rl(path=str(write_d4rl(tmp_path / "d.hdf5", arrays)))
    r = arrays["rewards"].astype(np.float64)
    # episodes end at terminals | timeouts, before any dropping; the unflagged trailing segment is excluded
    expected = [r[0:5].sum(), r[5:12].sum(), r[12:16].sum(), r[16:22].sum()]
    np.testing.assert_array_equal(data.episode_returns, expected)


def test_fallback_without_next_observations(tmp_path, block_rows):
    arrays = make_d4rl_arrays()
    del arrays["next_observations"]
    data = load_d4rl(path=str(write_d4rl(tmp_path / "d.hdf5", arrays)))
    # rows ending an episode (4, 11, 15, 21) and the last row (24) have no in-episode successor
    kept = np.array([i for i in range(25) if i not in (4, 11, 15, 21, 24)])
    assert len(data) == 20
    np.testing.assert_array_equal(data.obs.numpy(), arrays["observations"][kept])
    np.testing.assert_array_equal(data.next_obs.numpy(), arrays["observations"][kept + 1])
    assert bool((data.next_obs[:, 0] == data.obs[:, 0]).all())
    assert bool((data.next_obs[:, 1] == data.obs[:, 1] + 1).all())
    assert data.done.sum().item() == 0.0
    assert len(data.episode_returns) == 4


def test_last_row_timeout_and_no_timeouts_key(tmp_path):
    arrays = make_d4rl_arrays([(3, "terminal"), (4, "timeout")])
    data = load_d4rl(path=str(write_d4rl(tmp_path / "a.hdf5", arrays)))
    assert len(data) == 6  # the final row is a timeout, as in v2 files: dropped, like qlearning_dataset
    del arrays["timeouts"]
    data = load_d4rl(path=str(write_d4rl(tmp_path / "b.hdf5", arrays)))
    assert len(data) == 7  # no timeouts key: nothing dropped, only terminals end episodes
    np.testing.assert_array_equal(data.episode_returns, [arrays["rewards"][:3].astype(np.float64).sum()])


def _publish(monkeypatch, file_name: str, path: Path) -> str:
    """Make ``path``'s SHA-256 the published hash of ``file_name`` (the real ones are of the real files)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(d4rl_module.KNOWN_SHA256, file_name, digest)
    return digest


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    cached = write_d4rl(tmp_path / "walker2d_medium-v2.hdf5", make_d4rl_arrays())
    _publish(monkeypatch, "walker2d_medium-v2.hdf5", cached)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path))
    data = load_d4rl(file_name="walker2d_medium-v2.hdf5", download=False)
    assert len(data) == 23 and data.source == str(tmp_path / "walker2d_medium-v2.hdf5")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    """(served directory, base URL, list of request paths) of a local HTTP server, shut down after the test."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []
    handler = functools.partial(type("Handler", (_QuietHandler,), {"requests": requests}), directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_into_cache(file_server, tmp_path, monkeypatch):
    served, base_url, _ = file_server
    original = write_d4rl(served / "hopper_medium-v2.hdf5", make_d4rl_arrays())
    _publish(monkeypatch, "hopper_medium-v2.hdf5", original)
    cache = tmp_path / "cache"
    data = load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=base_url)
    assert len(data) == 23
    assert (cache / "hopper_medium-v2.hdf5").read_bytes() == original.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["hopper_medium-v2.hdf5"]  # no temp file left
    original.unlink()  # a second load uses the cache, not the server
    assert len(load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=base_url)) == 23


def _assert_offline_message(exc: DatasetError, cache: Path) -> None:
    message = str(exc)
    assert "hopper_medium-v2.hdf5" in message and str(cache) in message and "\n" not in message


def test_download_disabled(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as err:
        load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), download=False)
    _assert_offline_message(err.value, cache)
    assert f"{D4RL_BASE_URL}/hopper_medium-v2.hdf5" in str(err.value)


def test_download_404(file_server, tmp_path):
    _, base_url, _ = file_server
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as err:
        load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=base_url)
    _assert_offline_message(err.value, cache)
    assert "404" in str(err.value)
    assert list(cache.iterdir()) == []  # the temp file was removed


def test_download_connection_refused(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as err:
        load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=f"http://127.0.0.1:{port}")
    _assert_offline_message(err.value, cache)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_published_hashes_cover_the_d4rl_tasks():
    names = {line.split(":", 1)[1].strip() for f in (CONF / "dataset_env").glob("d4rl_*.yaml")
             for line in f.read_text().splitlines() if line.startswith("file_name:")}  # fmt: skip
    assert len(names) == 9 and names <= set(d4rl_module.KNOWN_SHA256)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in d4rl_module.KNOWN_SHA256.values())


def test_corrupted_download_is_fetched_again_then_refused(file_server, tmp_path, monkeypatch):
    served, base_url, requests = file_server
    good = write_d4rl(tmp_path / "good.hdf5", make_d4rl_arrays())
    expected = _publish(monkeypatch, "hopper_medium-v2.hdf5", good)
    corrupt = bytearray(good.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF  # one flipped byte: what a broken mirror or a bad disk serves
    corrupt = bytes(corrupt)
    (served / "hopper_medium-v2.hdf5").write_bytes(corrupt)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=base_url)
    message = str(err.value)
    actual = hashlib.sha256(corrupt).hexdigest()
    assert "hopper_medium-v2.hdf5" in message and expected in message and actual in message and "\n" not in message
    assert requests == ["/hopper_medium-v2.hdf5"] * 2  # downloaded again once, then refused
    assert list(cache.iterdir()) == []  # the bad file is not left for the next run to load


def test_corrupted_cache_file_is_replaced(file_server, tmp_path, monkeypatch):
    served, base_url, requests = file_server
    original = write_d4rl(served / "hopper_medium-v2.hdf5", make_d4rl_arrays())
    _publish(monkeypatch, "hopper_medium-v2.hdf5", original)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "hopper_medium-v2.hdf5").write_bytes(original.read_bytes()[: original.stat().st_size // 2])  # truncated
    assert len(load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), base_url=base_url)) == 23
    assert (cache / "hopper_medium-v2.hdf5").read_bytes() == original.read_bytes() and len(requests) == 1
    with pytest.raises(ChecksumError, match="download=False"):  # offline, a corrupt file is refused, not read
        (cache / "hopper_medium-v2.hdf5").write_bytes(b"x")
        load_d4rl(file_name="hopper_medium-v2.hdf5", cache_dir=str(cache), download=False)


def test_unpublished_file_is_checked_against_its_first_download(file_server, tmp_path):
    served, base_url, requests = file_server
    original = write_d4rl(served / "mine-v2.hdf5", make_d4rl_arrays())
    cache = tmp_path / "cache"
    assert len(load_d4rl(file_name="mine-v2.hdf5", cache_dir=str(cache), base_url=base_url)) == 23
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    assert (cache / "mine-v2.hdf5.sha256").read_text() == f"{digest}  mine-v2.hdf5\n"  # sha256sum's format
    (cache / "mine-v2.hdf5").write_bytes(b"garbage")  # corrupted later: fetched again, matches the record
    assert len(load_d4rl(file_name="mine-v2.hdf5", cache_dir=str(cache), base_url=base_url)) == 23
    assert len(requests) == 2
    write_d4rl(served / "mine-v2.hdf5", make_d4rl_arrays(seed=1))  # the server's file changed
    (cache / "mine-v2.hdf5").write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match=r"mine-v2\.hdf5\.sha256"):
        load_d4rl(file_name="mine-v2.hdf5", cache_dir=str(cache), base_url=base_url)
