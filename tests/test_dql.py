"""Diffusion-QL and the TD critic (issue 23): the Q gradient through the sampling chain against finite differences,
the TD fixed point, the rewarded mode of the bandit, and ``algorithm=dql critic=td`` end to end."""

from __future__ import annotations

import json

import pytest
import torch

from bandit import bandit_data, make_critic, make_model_factory, rewarded_fraction, run_phase
from conftest import compose_config, run_train
from genrl import Agent
from genrl.algorithms.dql import DQL
from genrl.config_checks import check_config
from genrl.critics import TDCritic
from genrl.data import Transitions
from genrl.errors import ConfigError
from genrl.models import GenerativeModel
from genrl.networks import DoubleQ, TemporalSpatialResidualNet
from genrl.paths import ICFMPath


def make_td_critic(discount: float = 0.99, lr: float = 1e-3) -> TDCritic:
    return TDCritic(DoubleQ(2, 1, [64, 64]), lambda p: torch.optim.Adam(p, lr=lr), discount=discount, polyak=0.05)


def test_the_q_gradient_through_the_chain_matches_finite_differences():
    """d/dθ mean Q1(s, a_θ(s; z)) for the 5-step Euler chain that DQL differentiates (recomputed), against central
    differences in float64 on a sample of the policy's parameters, the noise z held fixed."""
    torch.manual_seed(0)
    net = TemporalSpatialResidualNet(2, 3, (16, 8), t_dim=8, cond_hidden_dim=8, t_cond_hidden_dim=8).double()
    policy = GenerativeModel(net, ICFMPath(0.1)).double()
    q_net = DoubleQ(3, 2, [16]).double()
    dql = DQL(lambda: policy, TDCritic(q_net, lambda p: torch.optim.Adam(p)), lambda p: torch.optim.Adam(p),
              eta=1.0, epochs=1)  # fmt: skip
    obs = torch.randn(6, 3, dtype=torch.float64)

    def objective() -> torch.Tensor:
        torch.manual_seed(1)  # the same initial noise z every call
        return q_net(obs, dql.sample(policy, obs, recompute=True))[0].mean()

    params = list(policy.parameters())
    grads = torch.autograd.grad(objective(), params, allow_unused=True)
    checked = 0
    for param, grad in zip(params, grads):
        if grad is None or param.numel() == 0:
            continue
        for index in torch.randperm(param.numel())[:2].tolist():
            flat = param.data.view(-1)
            original = flat[index].item()
            with torch.no_grad():
                flat[index] = original + 1e-6
                up = objective().item()
                flat[index] = original - 1e-6
                down = objective().item()
                flat[index] = original
            assert grad.view(-1)[index].item() == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-9)
            checked += 1
    assert checked > 20


def test_the_td_critic_reaches_the_discounted_return_of_a_constant_reward():
    """r = 1 forever (s' = s, d = 0) with γ = 0.5: Q = 1/(1 − γ) = 2 for the target policy's action."""
    torch.manual_seed(0)
    critic = make_td_critic(discount=0.5, lr=3e-3)
    obs, action = torch.randn(256, 2), torch.rand(256, 1) * 2 - 1
    data = Transitions(obs, action, torch.ones(256), obs.clone(), torch.zeros(256), episode_returns=None)
    batch = data.batch(torch.arange(256))
    for _ in range(1500):
        critic.update(batch, action)
        critic.update_target()
    assert critic.score(obs, action).mean().item() == pytest.approx(2.0, abs=0.05)


@pytest.mark.slow
def test_dql_moves_the_policy_to_the_rewarded_mode_of_the_bandit():
    """Bimodal behaviour, reward when sign(a) = sign(s₀): BC + η·Q through the chain puts the policy's samples on
    the rewarded mode (pure BC keeps half of them on the other)."""
    torch.manual_seed(0)
    data = bandit_data()
    dql = DQL(make_model_factory("gvp"), make_td_critic(), lambda p: torch.optim.Adam(p, lr=1e-3), eta=1.0,
              epochs=1, ema_start=100, lr_schedule="constant")  # fmt: skip
    run_phase(dql.phases()[0], data, 450)
    hit, _ = rewarded_fraction(dql.acting_policy, steps=dql.grad_steps)
    assert hit > 0.9, hit


def test_dql_warm_start_clones_then_evaluates_the_frozen_clone_then_starts_the_joint_phase_from_both():
    """behaviour_epochs > 0: the BC loss alone fits π (the bandit's two modes, half the samples on each);
    critic_epochs > 0: π̄ = π, frozen, while TD on its actions reaches the constant reward's fixed point 1/(1 − γ);
    the joint phase then starts from that π and that critic."""
    torch.manual_seed(0)
    data = bandit_data()
    data.reward.fill_(1.0)  # Q^π = 1/(1 − γ) = 2 for every policy: the fixed point the critic phase must reach
    data.done.zero_()
    dql = DQL(make_model_factory("gvp"), make_td_critic(discount=0.5, lr=3e-3), lambda p: torch.optim.Adam(p, lr=1e-3),
              eta=1.0, epochs=1, behaviour_epochs=1, critic_epochs=1)  # fmt: skip
    behaviour, critic, joint = dql.phases()
    assert [p.name for p in (behaviour, critic, joint)] == ["behaviour", "critic", "policy"] and joint.evaluate
    run_phase(behaviour, data, 300)
    hit, actions = rewarded_fraction(dql.policy, steps=dql.grad_steps)
    assert 0.3 < hit < 0.7 and (abs(actions) > 0.5).mean() > 0.8, hit  # both behaviour modes, not the prior
    cloned = {k: v.clone() for k, v in dql.policy.state_dict().items()}
    run_phase(critic, data, 1500)
    assert all(torch.equal(v, cloned[k]) for k, v in dql.policy.state_dict().items())  # π is frozen
    assert all(torch.equal(v, cloned[k]) for k, v in dql.target_policy.module.state_dict().items())  # π̄ = π
    obs = data.obs[:256]
    assert dql.critic.score(obs, dql.sample(dql.policy, obs)).mean().item() == pytest.approx(2.0, abs=0.05)
    assert dql.updates == 0  # the joint phase's lr schedule and EMA start count its own steps


def test_dql_trains_and_deploys_with_its_candidates(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=dql", "critic.q_net.hidden_sizes=[16]"], tmp_path)  # dql.yaml picks critic=td
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"], results["path"]) == ("dql", "td", "gvp")
    assert (results["sampling"]["candidates"], results["sampling"]["selection"]) == (50, "softmax")
    assert results["unused_config"] == ["critic.v_net"] and list(results["phase_steps"]) == ["policy"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.policy.candidates == 50 and agent.policy.score_scale == 1.0
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)


def test_dql_with_a_warm_start_trains_its_three_phases_and_deploys(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=dql", "critic.q_net.hidden_sizes=[16]", "algorithm.behaviour_epochs=1",
               "algorithm.critic_epochs=1"], tmp_path)  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(results["phase_steps"]) == ["behaviour", "critic", "policy"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.policy.candidates == 50 and agent.policy.score_scale == 1.0
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)


def test_dql_learns_from_the_td_or_the_in_sample_critic_and_the_td_critic_only_serves_td_algorithms():
    assert compose_config(["algorithm=dql"]).critic.name == "td"  # its YAML chooses it
    check_config(compose_config(["algorithm=dql", "critic=iql"]))
    with pytest.raises(ConfigError, match=r"^critic=insupport: algorithm=dql learns from td or iql \(critic=td\)$"):
        check_config(compose_config(["algorithm=dql", "critic=insupport"]))
    with pytest.raises(ConfigError, match=r"^critic=td: algorithm=bc learns from iql or none \(critic=iql\)$"):
        check_config(compose_config(["algorithm=bc", "critic=td"]))


def test_the_td_warm_start_is_refused_with_the_in_sample_critic():
    with pytest.raises(ValueError, match=r"^algorithm.critic_epochs=1 trains the TD critic .* expected "
                                         r"algorithm.critic_epochs=0 \(or critic=td\)$"):  # fmt: skip
        DQL(make_model_factory("gvp"), make_critic(), torch.optim.Adam, eta=1.0, epochs=1, critic_epochs=1)


@pytest.mark.slow
def test_in_sample_dql_learns_q_first_then_moves_the_clone_to_the_rewarded_mode_under_the_frozen_critic():
    """``critic=iql``: IQL's phase, BC (both behaviour modes), then BC + η·Q through the chain puts the policy's
    samples on the rewarded mode while Q, V and the target Q stay exactly as the critic phase left them."""
    torch.manual_seed(0)
    data = bandit_data()
    dql = DQL(make_model_factory("gvp"), make_critic(), lambda p: torch.optim.Adam(p, lr=1e-3), eta=1.0, epochs=1,
              behaviour_epochs=1, lr_schedule="constant")  # fmt: skip
    critic, behaviour, joint = dql.phases()
    assert [p.name for p in (critic, behaviour, joint)] == ["critic", "behaviour", "policy"] and joint.evaluate
    run_phase(critic, data, 300)
    run_phase(behaviour, data, 300, seed=1)
    hit, _ = rewarded_fraction(dql.acting_policy, steps=dql.grad_steps)
    assert 0.3 < hit < 0.7, hit
    frozen = [t.detach().clone() for m in (dql.critic.q, dql.critic.v, dql.critic.q_target) for t in m.parameters()]
    run_phase(joint, data, 450, seed=2)
    hit, _ = rewarded_fraction(dql.acting_policy, steps=dql.grad_steps)
    assert hit > 0.9, hit
    after = [t for m in (dql.critic.q, dql.critic.v, dql.critic.q_target) for t in m.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(frozen, after)) and dql.updates == 450


def test_in_sample_dql_trains_its_three_phases_and_deploys(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=dql", "critic=iql", "algorithm.behaviour_epochs=1"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["critic"], list(results["phase_steps"])) == ("iql", ["critic", "behaviour", "policy"])
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.policy.candidates == 50 and agent.policy.score_scale == 1.0
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)


def test_dql_fast_recipe_warm_starts_and_fits_its_phases_in_minutes_and_acts_as_the_paper():
    """recipe=fast: BC, then TD on the clone's actions, then a short joint phase (each joint step ~6 policy passes),
    the 5-step chain without per-step recomputation (the same gradient: tests/test_generative_model.py), acting by
    50 candidates ∝ softmax(Q); the paper's config keeps its one phase."""
    cfg = compose_config(["algorithm=dql", "recipe=fast"])
    assert dict(cfg.budget.phase_steps) == {"behaviour": 10000, "critic": 4000, "policy": 2000}
    assert cfg.algorithm.behaviour_epochs > 0 and cfg.algorithm.critic_epochs > 0 and cfg.algorithm.recompute is False
    assert (cfg.sampling.steps, cfg.sampling.candidates, cfg.sampling.selection) == (5, 50, "softmax")
    paper = compose_config(["algorithm=dql"]).algorithm
    assert paper.behaviour_epochs == 0 and paper.critic_epochs == 0
    in_sample = compose_config(["algorithm=dql", "critic=iql", "recipe=fast"])
    assert dict(in_sample.budget.phase_steps) == {"behaviour": 10000, "critic": 20000, "policy": 2000}
    assert in_sample.algorithm.critic_epochs == 0 and in_sample.algorithm.behaviour_epochs > 0
