"""SfBC and the in-support critic (issue 23): resampled behaviour candidates against the tilted Gaussian, the
in-support backup's value, the rewarded mode of the bandit, and ``algorithm=sfbc`` end to end."""

from __future__ import annotations

import json

import pytest
import torch

from bandit import bandit_data, make_model_factory, run_phase
from conftest import compose_config, run_train
from genrl import Agent
from genrl.acting.policy import ActingPolicy
from genrl.algorithms.sfbc import SfBC
from genrl.config_checks import check_config
from genrl.critics.insupport import InSupportCritic
from genrl.errors import ConfigError
from genrl.networks import DoubleQ


class QuadraticCritic:
    """Q(s, a) = −k·(a − q₀)²/2."""

    def __init__(self, k: float, q0: float) -> None:
        self.k, self.q0 = k, q0

    def score(self, obs, action):
        return -0.5 * self.k * (action[:, 0] - self.q0) ** 2


def tilted_gaussian(mean: float, std: float, k: float, q0: float, beta: float) -> tuple[float, float]:
    """Mean and std of N(mean, std²)·exp(β·Q), Q = −k(a − q₀)²/2: precision 1/std² + βk."""
    precision = 1.0 / std**2 + beta * k
    return (mean / std**2 + beta * k * q0) / precision, precision**-0.5


def test_resampled_candidates_follow_the_tilted_behaviour():
    """Behaviour N(−0.5, 0.5²), Q = −(a − 1)²/2, T = 1/α with α = 2: softmax(α·Q) over K = 512 behaviour samples is
    self-normalised importance resampling of μ·exp(α·Q), the Gaussian N(0, 0.408²)."""
    torch.manual_seed(0)
    mean, std, k, q0, alpha = -0.5, 0.5, 1.0, 1.0, 2.0

    def behaviour(obs):
        return mean + std * torch.randn(obs.shape[0], 1)

    score, unit = SfBC.candidate_scorer(QuadraticCritic(k, q0), {"selection": "softmax"})
    act = ActingPolicy(behaviour, None, 512, score, "softmax", 1.0 / alpha, unit)
    actions = act(torch.zeros(4000, 2))[:, 0]
    want_mean, want_std = tilted_gaussian(mean, std, k, q0, alpha)
    assert actions.mean().item() == pytest.approx(want_mean, abs=0.02)
    assert actions.std().item() == pytest.approx(want_std, abs=0.02)


def test_the_in_support_backup_is_the_softmax_weighted_value():
    """Q̄(s', a') = a'₀ exactly (a linear twin): y = r + γ·Σ softmax(α·a'_k)·a'_k, the α → 0 mean, α → ∞ max."""
    critic = InSupportCritic(DoubleQ(2, 1, [4]), lambda p: torch.optim.SGD(p, lr=0.0), alpha=2.0, discount=0.5)
    critic.q_target.min_q = lambda obs, action: action[:, 0]
    support = torch.tensor([[[0.0], [1.0], [3.0]]])
    weights = torch.softmax(2.0 * torch.tensor([0.0, 1.0, 3.0]), 0)
    assert critic.support_value(torch.zeros(1, 2), support).item() == pytest.approx(
        (weights * torch.tensor([0.0, 1.0, 3.0])).sum().item()
    )
    critic.alpha = 0.0
    assert critic.support_value(torch.zeros(1, 2), support).item() == pytest.approx(4.0 / 3.0)
    critic.alpha = 100.0
    assert critic.support_value(torch.zeros(1, 2), support).item() == pytest.approx(3.0)


def make_sfbc() -> SfBC:
    critic = InSupportCritic(DoubleQ(2, 1, [64, 64]), lambda p: torch.optim.Adam(p, lr=1e-3), epochs=1,
                             batch_size=256, support_actions=8, polyak=0.05)  # fmt: skip
    return SfBC(make_model_factory("gvp"), critic, lambda p: torch.optim.Adam(p, lr=1e-3), behaviour_epochs=1,
                batch_size=256, support_steps=4)  # fmt: skip


@pytest.mark.slow
def test_sfbc_picks_the_rewarded_mode_of_the_bandit():
    """Bimodal behaviour, reward 1 when sign(a) = sign(s₀): the learned μ proposes both modes, the in-support Q
    tells them apart, and softmax resampling (T = 0.1) puts the action on the rewarded one."""
    torch.manual_seed(0)
    data = bandit_data()
    sfbc = make_sfbc()
    behaviour, critic = sfbc.phases()
    run_phase(behaviour, data, 600)
    run_phase(critic, data, 300, seed=1)
    score, unit = SfBC.candidate_scorer(sfbc.critic, {"selection": "softmax"})
    act = ActingPolicy(sfbc.acting_policy.sampler(steps=10), None, 32, score, "softmax", 0.1, unit)
    obs = torch.randn(1000, 2)
    obs = obs[obs[:, 0].abs() > 0.2]
    with torch.no_grad():
        action = act(obs)[:, 0]
    rewarded = (torch.sign(action) == torch.sign(obs[:, 0])).float().mean().item()
    assert rewarded > 0.9, rewarded


def test_sfbc_trains_and_deploys_from_its_yaml(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=sfbc", "critic.q_net.hidden_sizes=[16]"], tmp_path)  # sfbc.yaml: insupport
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"], results["path"]) == ("sfbc", "insupport", "gvp")
    assert (results["sampling"]["candidates"], results["sampling"]["selection"]) == (32, "softmax")
    assert results["unused_config"] == ["critic.v_net"] and list(results["phase_steps"]) == ["behaviour", "critic"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.policy.candidates == 32 and agent.policy.score_scale == 1.0
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)


def test_sfbc_needs_the_in_support_critic_and_checks_its_options():
    assert compose_config(["algorithm=sfbc"]).critic.name == "insupport"
    with pytest.raises(ConfigError, match=r"^critic=iql: algorithm=sfbc learns from insupport \(critic=insupport\)$"):
        check_config(compose_config(["algorithm=sfbc", "critic=iql"]))
    with pytest.raises(ConfigError, match=r"^critic.support_actions=0: expected >= 1$"):
        check_config(compose_config(["algorithm=sfbc", "critic.support_actions=0"]))
    with pytest.raises(ConfigError, match=r"^algorithm.support_steps=0: expected >= 1$"):
        check_config(compose_config(["algorithm=sfbc", "+algorithm.support_steps=0"]))
