"""algorithm=iql: IQL's Gaussian policy by AWR from genrl's IQL critic (issue 12, item 2), and algorithm=bc.

On the bimodal contextual bandit (tests/bandit.py) IQL's Gaussian moves its mean to the rewarded mode; being one
Gaussian it cannot represent both behaviour modes, which GMPO's generative samples do.
"""

import copy
import json

import numpy as np
import pytest
import torch

from bandit import MODE_NOISE, bandit_data, make_critic, make_model_factory, run_phase
from conftest import CONF, compose_config, run_train
from genrl import Agent
from genrl.acting.loading import make_sampler
from genrl.algorithms import GMPO, IQL, BehaviourCloning
from genrl.algorithms.base import GENERATIVE_KEYS
from genrl.building import build_algorithm
from genrl.errors import ConfigError
from genrl.models import GenerativeModel
from genrl.models.gaussian import GaussianPolicy

TINY = ["net.hidden_sizes=[8,4]", "critic.q_net.hidden_sizes=[8]", "critic.v_net.hidden_sizes=[8]"]


def adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


def contexts(n: int = 500) -> torch.Tensor:
    """n states with s₀ = +1 (rewarded mode a ≈ +1), then n with s₀ = −1 (rewarded mode a ≈ −1)."""
    return torch.cat([torch.tensor([[1.0, 0.0]]).repeat(n, 1), torch.tensor([[-1.0, 0.0]]).repeat(n, 1)])


@pytest.fixture(scope="module")
def bandit():
    """The bandit's data and an IQL critic trained on it (shared: each algorithm gets a copy)."""
    torch.manual_seed(0)
    data = bandit_data()
    critic = make_critic()
    run_phase(critic.phase(), data, 300)
    return data, critic


def train_iql(data, critic, beta: float, steps: int = 1000) -> IQL:
    torch.manual_seed(1)
    iql = IQL(lambda: GaussianPolicy(2, 1, (64, 64)), copy.deepcopy(critic), adam(1e-3), beta=beta,
              max_weight=100.0, epochs=1, batch_size=256)  # fmt: skip
    iql.set_phase_steps({"critic": 0, "policy": steps})
    run_phase(iql.phases()[1], data, steps, seed=1)
    return iql


def test_iql_moves_its_mean_to_the_rewarded_mode(bandit):
    data, critic = bandit
    iql = train_iql(data, critic, beta=3.0)  # the published β
    obs = contexts()
    with torch.no_grad():
        mean, _ = iql.policy(obs)
        acted = iql.policy.sampler(noise_scale=1.0)(obs)  # deterministic: IQL evaluates the mean action
    assert mean[:500].min() > 0.8 and mean[500:].max() < -0.8, "the mean sits on the rewarded mode of each state"
    torch.testing.assert_close(acted, mean)
    assert iql.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5 * (1 + np.cos(np.pi * 999 / 1000)))


def test_a_gaussian_cannot_represent_both_modes_that_gmpo_samples(bandit):
    """Without advantage weighting (β = 0) both fit the behaviour policy: GMPO's samples sit on both modes, the
    Gaussian puts its mean between them, where the data has no action, and spreads over the gap."""
    data, critic = bandit
    iql = train_iql(data, critic, beta=0.0)
    torch.manual_seed(2)
    gmpo = GMPO(make_model_factory("gvp"), copy.deepcopy(critic), adam(2e-3), beta=0.0, max_weight=100.0,
                epochs=1, batch_size=256)  # fmt: skip
    run_phase(gmpo.phases()[1], data, 600, seed=1)
    obs = contexts()
    with torch.no_grad():
        mean, std = iql.policy(obs)
        gaussian = iql.policy.sample(obs, noise_scale=1.0)[:, 0].numpy()
        generative = gmpo.policy.sample(obs, steps=31)[:, 0].numpy()

    def on_a_mode(actions: np.ndarray) -> float:
        return float(np.mean(np.abs(np.abs(actions) - 1.0) < 3 * MODE_NOISE))

    def in_the_gap(actions: np.ndarray) -> float:  # no behaviour action lies within 0.7 of 0 (modes ±1, σ = 0.1)
        return float(np.mean(np.abs(actions) < 0.7))

    assert on_a_mode(generative) > 0.9 and 0.3 < np.mean(generative > 0) < 0.7  # both modes, little in between
    assert in_the_gap(generative) < 0.1
    assert mean.abs().max() < 0.3 and std.item() > 0.8  # one mode-averaging Gaussian
    assert in_the_gap(gaussian) > 0.3


def test_gaussian_policy_density_box_and_sampler():
    torch.manual_seed(0)
    policy = GaussianPolicy(3, 2, (16,), action_low=[-2.0, 0.0], action_high=[2.0, 1.0], deterministic=False)
    obs, action = torch.randn(64, 3), torch.rand(64, 2)
    mean, std = policy(obs)
    expected = torch.distributions.Normal(mean, std).log_prob(action).sum(-1)
    torch.testing.assert_close(policy.log_prob(action, obs), expected)
    assert (mean[:, 0].abs() < 2).all() and ((mean[:, 1] > 0) & (mean[:, 1] < 1)).all()  # tanh mean in the box
    with torch.no_grad():
        policy.log_std.fill_(3.0)  # σ = e², clipped at log_std_max = 2
        sampled = policy.sampler(1.0)(obs)
    assert policy(obs)[1].log().allclose(torch.full((2,), 2.0))
    assert (sampled[:, 0].abs() <= 2).all() and ((sampled[:, 1] >= 0) & (sampled[:, 1] <= 1)).all()
    assert not torch.equal(sampled, policy(obs)[0])
    torch.testing.assert_close(policy.sampler(0.0)(obs), policy(obs)[0])
    with pytest.raises(ValueError, match="bounded action box"):
        GaussianPolicy(3, 1, action_low=[-float("inf")], action_high=[1.0])


def test_cosine_lr_and_the_actor_clock_survive_a_checkpoint(bandit):
    data, critic = bandit

    def make() -> IQL:
        torch.manual_seed(3)
        iql = IQL(lambda: GaussianPolicy(2, 1, (8,)), copy.deepcopy(critic), adam(1e-2), epochs=1, batch_size=64)
        iql.set_phase_steps({"critic": 10, "policy": 40})
        return iql

    first = make()
    phase = first.phases()[1]
    run_phase(phase, data, 20)
    assert first.learning_rate_factor() == pytest.approx(0.5)  # half-way through the cosine
    second = make()
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    assert second.policy_updates == 20 and second.learning_rate_factor() == pytest.approx(0.5)
    batch = data.batch(torch.arange(64))
    first.update(batch), second.update(batch)
    for a, b in zip(first.policy.parameters(), second.policy.parameters()):
        torch.testing.assert_close(a, b)
    assert IQL(lambda: GaussianPolicy(2, 1, (8,)), copy.deepcopy(critic), adam(1e-2), lr_schedule="constant",
               epochs=1).learning_rate_factor() == 1.0  # fmt: skip


def test_iql_and_bc_compose_with_every_env_budget_dataset_recipe_and_launcher():
    envs = sorted(p.stem for p in (CONF / "env").glob("*.yaml"))
    budgets = sorted(p.stem for p in (CONF / "budget").glob("*.yaml"))
    datasets = sorted(p.stem for p in (CONF / "dataset").glob("*.yaml"))
    for algorithm in ("iql", "bc"):
        choices = [[f"env={e}", *(["dataset.dataset_id=some/data-v0"] if e == "minari" else [])] for e in envs]
        choices += [[f"budget={b}"] for b in budgets] + [[f"dataset={d}"] for d in datasets]
        choices += [["recipe=fast"], ["recipe=fast", "budget=smoke"]]
        for overrides in choices:
            cfg = compose_config([f"algorithm={algorithm}", *overrides])
            assert cfg.algorithm.name == algorithm
        for launcher in ("submitit_slurm", "submitit_local"):
            cfg = compose_config([f"algorithm={algorithm}", f"hydra/launcher={launcher}"], return_hydra_config=True)
            assert launcher.split("_")[1] in cfg.hydra.launcher._target_.lower()
    iql = compose_config(["algorithm=iql", "env=hopper-medium-v2"])
    assert (iql.critic.expectile, iql.algorithm.beta, iql.algorithm.max_weight) == (0.7, 3.0, 100.0)
    assert (iql.critic.batch_size, iql.algorithm.batch_size, iql.algorithm.optimizer.lr) == (256, 256, 3e-4)
    assert iql.algorithm.epochs * 3907 == pytest.approx(1_000_192)  # ≈ 1M steps on 1M transitions at B = 256
    assert compose_config(["algorithm=iql"]).critic.batch_size == 256  # also without a tuning file


@pytest.mark.parametrize("path", ["gvp", "none"])
def test_iql_builds_a_gaussian_policy_whatever_the_path(path):
    cfg = compose_config(["algorithm=iql", f"path={path}", *TINY])
    algo = build_algorithm(cfg, 3, 1, torch.device("cpu"), ([-2.0], [2.0]))
    assert isinstance(algo, IQL) and isinstance(algo.policy, GaussianPolicy)
    assert algo.policy.half_width.item() == 2.0
    with torch.no_grad():
        actions = make_sampler(cfg, algo.acting_policy)(torch.randn(4, 3))
    assert actions.shape == (4, 1)


def test_bc_uses_the_generative_path_and_path_none_is_refused_where_it_is_needed():
    for path in ("vpsde", "gvp", "icfm"):
        bc = build_algorithm(compose_config(["algorithm=bc", f"path={path}", *TINY]), 3, 1, torch.device("cpu"))
        assert isinstance(bc, BehaviourCloning) and isinstance(bc.policy, GenerativeModel)
        assert type(bc.policy.path).__name__ == ("ICFMPath" if path == "icfm" else "AffinePath")
    with pytest.raises(ConfigError, match="path=none: algorithm=gmpo samples a generative policy"):
        build_algorithm(compose_config(["algorithm=gmpo", "path=none", *TINY]), 3, 1, torch.device("cpu"))


@pytest.mark.slow
def test_train_iql_with_an_ignored_path_then_deploy_it(tmp_path, smoke_args):
    proc = run_train(["algorithm=iql", "path=gvp", "algorithm.ema_decay=0.5", *smoke_args], tmp_path)
    ignored = [line for line in (proc.stdout + proc.stderr).splitlines() if "is ignored" in line]
    assert len(ignored) == 1 and "path=gvp is ignored: algorithm=iql trains its own GaussianPolicy" in ignored[0]
    run_dir = tmp_path / "run"
    res = json.loads((run_dir / "results.json").read_text())
    assert (res["algorithm"], res["path"], res["unused_config"]) == ("iql", "none", list(GENERATIVE_KEYS))
    assert res["phase_steps"] == {"critic": 6, "policy": 6} and res["score_final"] is not None

    agent = Agent.from_checkpoint(run_dir)
    assert isinstance(agent.model, GaussianPolicy) and agent.policy.candidates == 1
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)["algorithm"]
    assert state["policy_updates"] == 6
    ema = {k.removeprefix("module."): v for k, v in state["policy_ema"].items() if k != "n_averaged"}
    for name, value in agent.model.state_dict().items():  # the EMA copy acts
        torch.testing.assert_close(value, ema[name])
    obs = np.array([0.3, -0.2, 0.5], dtype=np.float32)
    action = agent.act(obs)
    assert action.shape == (1,) and np.abs(action).max() <= 2.0  # Pendulum's box
    np.testing.assert_array_equal(agent.act(obs), action)  # the deterministic mean action
    with torch.no_grad():
        mean, _ = agent.model(torch.as_tensor(obs)[None])
    np.testing.assert_allclose(action, mean[0].numpy(), rtol=1e-6)


@pytest.mark.slow
def test_train_bc_and_deploy_its_generative_policy(tmp_path, smoke_args):
    """algorithm=bc end to end through the same, now algorithm-agnostic, checkpoint → Agent path."""
    run_train(["algorithm=bc", "path=icfm", "sampling.candidates=3", "algorithm.ema_decay=0.5", *smoke_args], tmp_path)
    run_dir = tmp_path / "run"
    res = json.loads((run_dir / "results.json").read_text())
    assert (res["algorithm"], res["path"], res["unused_config"]) == ("bc", "icfm", [])
    assert res["phase_steps"] == {"critic": 6, "policy": 6}  # the critic only because candidates > 1
    agent = Agent.from_checkpoint(run_dir)
    assert isinstance(agent.model, GenerativeModel) and type(agent.model.path).__name__ == "ICFMPath"
    assert agent.policy.candidates == 3 and agent.policy.score is not None
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)["algorithm"]
    ema = {k.removeprefix("module."): v for k, v in state["policy_ema"].items() if k != "n_averaged"}
    for name, value in agent.model.state_dict().items():
        torch.testing.assert_close(value, ema[name])
    assert agent.act(np.zeros(3, dtype=np.float32)).shape == (1,)
