"""FQL (issue 24): the one-step policy μ(s, z) on the bandit's rewarded mode, distillation to a fixed teacher, and
``algorithm=fql critic=td`` end to end with one network call per action."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from bandit import bandit_data, make_critic, make_model_factory, rewarded_fraction, run_phase
from conftest import compose_config, run_train
from genrl import Agent
from genrl.algorithms.fql import FQL
from genrl.critics import TDCritic
from genrl.models.one_step import OneStepPolicy
from genrl.networks import DoubleQ


def make_fql(path: str, alpha: float = 1.0, critic=None, **options) -> FQL:
    critic = critic or TDCritic(DoubleQ(2, 1, [64, 64]), lambda p: torch.optim.Adam(p, lr=1e-3), polyak=0.05)
    return FQL(lambda: OneStepPolicy(2, 1, [64, 64]), make_model_factory(path), critic,
               lambda p: torch.optim.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3),
               alpha=alpha, behaviour_epochs=1, epochs=1, flow_steps=10, **options)  # fmt: skip


@pytest.mark.parametrize("beta", [0.0, 3.0])
def test_the_in_sample_critic_weights_the_multi_step_policy_and_stays_frozen(beta):
    """``critic=iql``: the critic learns first, from the data's actions; β > 0 moves the multi-step policy (the
    distillation target) onto the rewarded mode, β = 0 clones both modes; the policy phase leaves Q unchanged."""
    torch.manual_seed(0)
    data = bandit_data()
    fql = make_fql("gvp", critic=make_critic(), behaviour_beta=beta, behaviour_ema_decay=0.9)
    critic, behaviour, policy = fql.phases()
    assert (critic.name, behaviour.name, policy.name) == ("critic", "behaviour", "policy")
    run_phase(critic, data, 300)
    run_phase(behaviour, data, 400, seed=1)
    hit, _ = rewarded_fraction(fql.teacher_model)
    assert hit > 0.85 if beta > 0 else 0.35 < hit < 0.65, f"β = {beta}: {hit:.0%} on the rewarded mode"
    q_before = [p.detach().clone() for p in fql.critic.q.parameters()]
    run_phase(policy, data, 20, seed=2)
    assert all(torch.equal(a, b) for a, b in zip(q_before, fql.critic.q.parameters()))
    assert fql.teacher_model is fql.behaviour_ema.module


def test_advantage_weights_need_the_in_sample_critic():
    with pytest.raises(ValueError, match=r"behaviour_beta=1.0 .* expected critic=iql"):
        make_fql("gvp", behaviour_beta=1.0)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["gvp", "icfm", "vpsde"])
def test_the_one_step_policy_converges_to_the_rewarded_action_of_the_bandit(path):
    """Behaviour a ∈ {−1, +1} (± 0.1), reward 1 when sign(a) = sign(s₀): the optimum is the behaviour mode
    a* = sign(s₀). The distillation keeps μ on the behaviour's support, Q picks the rewarded mode."""
    torch.manual_seed(0)
    data = bandit_data()
    fql = make_fql(path, alpha=0.1)
    behaviour, policy = fql.phases()
    run_phase(behaviour, data, 400)
    run_phase(policy, data, 400)
    obs = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(200, 1), torch.tensor([[-1.0, 0.0]]).repeat(200, 1)])
    with torch.no_grad():
        action = fql.make_sampler(fql.acting_policy, {"noise_scale": 1.0})(obs)[:, 0]
    optimum = torch.sign(obs[:, 0])
    assert (torch.sign(action) == optimum).float().mean() > 0.95
    assert (action - optimum).abs().mean() < 0.1


def test_fql_trains_and_deploys_at_one_network_call(tmp_path, smoke_args):
    tiny = ["algorithm.policy.hidden_sizes=[16]", "critic.q_net.hidden_sizes=[16]"]
    run_train([*smoke_args, "algorithm=fql", "path=icfm", *tiny], tmp_path)  # fql.yaml picks critic=td
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"], results["path"]) == ("fql", "td", "icfm")
    assert list(results["phase_steps"]) == ["behaviour", "policy"]
    assert results["unused_config"] == ["sampling.steps", "sampling.method", "critic.v_net"]
    assert results["calls_per_action"] == 1 and results["act_ms_batch1"] > 0 and results["actions_per_s_batch1024"] > 0
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert isinstance(agent.model, OneStepPolicy) and agent.policy.candidates == 1
    action = agent.act(torch.zeros(3).numpy())
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0  # Pendulum's box


def test_fql_fast_recipe_acts_as_trained():
    cfg = compose_config(["algorithm=fql", "recipe=fast"])
    assert cfg.critic.name == "td" and cfg.budget.name == "minutes"
    assert (cfg.sampling.candidates, cfg.sampling.noise_scale) == (1, 1.0)
    assert cfg.algorithm.flow_steps == 5 and list(cfg.critic.q_net.hidden_sizes) == [256, 256]
    assert dict(cfg.budget.phase_steps)["behaviour"] == 20000 and dict(cfg.budget.phase_steps)["policy"] == 14000
    assert cfg.algorithm.behaviour_beta == 0.0 and cfg.algorithm.teacher_pairs is None  # the paper's cloning


def test_the_in_sample_variant_of_recipe_fast_composes_from_the_critic_choice():
    """conf/algorithm_critic_recipe/fql_iql_fast.yaml: ``critic=iql`` brings GMPO's weighting, the EMA target, the
    teacher pairs and the recipe's acting noise; a command-line value still wins; no other algorithm gets them."""
    in_sample = ["algorithm=fql", "critic=iql", "recipe=fast"]
    cfg = compose_config(in_sample)
    algorithm, phase_steps = cfg.algorithm, dict(cfg.budget.phase_steps)
    assert (algorithm.behaviour_beta, algorithm.behaviour_ema_decay) == (1.0, 0.999)
    assert algorithm.behaviour_optimizer.lr == 1e-3 and algorithm.teacher_pairs == 1000000
    assert cfg.sampling.noise_scale == 0.5 and phase_steps["critic"] == 20000
    assert compose_config([*in_sample, "algorithm.behaviour_beta=0"]).algorithm.behaviour_beta == 0
    assert compose_config(["algorithm=fql", "critic=iql"]).algorithm.behaviour_beta == 0.0  # recipe=reference
    assert compose_config(["algorithm=srpo", "recipe=fast"]).algorithm.behaviour_optimizer.lr != 1e-3


class AffineQ(torch.nn.Module):
    """A critic's twins seen through Q → c·Q + b (a reward scale and offset)."""

    def __init__(self, q: torch.nn.Module, c: float, b: float) -> None:
        super().__init__()
        self.inner, self.c, self.b = q, c, b

    def forward(self, obs, action):
        return tuple(self.c * q + self.b for q in self.inner(obs, action))


def policy_gradient(fql: FQL, obs, action) -> torch.Tensor:
    torch.manual_seed(1)
    fql.policy.zero_grad()
    fql.policy_loss(obs, action)[0].backward()
    return torch.cat([p.grad.flatten() for p in fql.policy.parameters()])


@pytest.mark.parametrize("q_scale, invariant", [("action_spread", True), ("mean_abs", False)])
def test_the_action_spread_unit_makes_the_policy_loss_invariant_to_q_scale_and_offset(q_scale, invariant):
    """σ_Q (Q's spread over behaviour actions) is invariant to Q → cQ + b, so is the policy's gradient; FQL's
    mean|Q| carries the offset b, so a reward shift changes how strongly Q pulls against the distillation."""
    torch.manual_seed(0)
    fql = make_fql("gvp")
    fql.q_scale = q_scale
    obs, action = torch.randn(64, 2), torch.rand(64, 1) * 2 - 1
    reference = policy_gradient(fql, obs, action)
    fql.critic.q = AffineQ(fql.critic.q, c=10.0, b=500.0)
    moved = policy_gradient(fql, obs, action)
    assert torch.allclose(moved, reference, rtol=1e-3, atol=1e-6) is invariant


def test_the_action_spread_unit_is_the_spread_of_q_between_two_behaviour_actions():
    """Q(s, a) = 5a and actions ~ N(0, 0.3²): ½·E(Q(a₁) − Q(a₂))² = (5 · 0.3)², so σ_Q = 1.5."""
    torch.manual_seed(0)
    fql = make_fql("gvp")
    fql.q_scale = "action_spread"
    fql.clamp_to_data = lambda a: a
    fql.critic.q = lambda obs, a: (5 * a[:, 0], 5 * a[:, 0])
    n = 200_000
    unit = fql.q_unit(torch.zeros(n, 2), torch.zeros(n), 0.3 * torch.randn(n, 1), 0.3 * torch.randn(n, 1))
    assert unit.item() == pytest.approx(1.5, rel=0.01)


def test_an_unknown_q_scale_is_refused_naming_the_option():
    with pytest.raises(ValueError, match=r"algorithm\.q_scale must be one of mean_abs, action_spread, got .std."):
        critic = TDCritic(DoubleQ(2, 1, [8]), lambda p: torch.optim.Adam(p), polyak=0.05)
        FQL(lambda: OneStepPolicy(2, 1, [8]), make_model_factory("gvp"), critic, lambda p: torch.optim.Adam(p),
            lambda p: torch.optim.Adam(p), alpha=1, behaviour_epochs=1, epochs=1, q_scale="std")  # fmt: skip


class PullQ(torch.nn.Module):
    """Q(s, a) = 100·a + 1000 for both twins: higher actions always look better."""

    def forward(self, obs, action):
        return 100 * action[:, 0] + 1000, 100 * action[:, 0] + 1000


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_the_dual_alpha_holds_the_distillation_at_its_target_in_units_of_the_behaviour_variance(epsilon):
    """Teacher Φ(z) = 0.1·z and data actions ~ N(0, 0.1²), so σ_b² = ½·E(Φ − a)² = 0.01; Q(s, a) = 100·a pulls μ
    away without bound. The dual α must stop it where the distillation is ε·σ_b² (mean over the last steps)."""
    torch.manual_seed(0)
    fql = make_fql("gvp", alpha=1.0)
    fql.target_distance, fql.alpha_rate, fql.q_scale = epsilon, 0.05, "mean_abs"
    fql.teacher = lambda obs, noise: 0.1 * noise
    fql.clamp_to_data = lambda a: a
    fql.critic.q = PullQ()
    distances = []
    for _ in range(1500):
        obs = torch.randn(256, 2)
        loss, metrics = fql.policy_loss(obs, 0.1 * torch.randn(256, 1))
        fql.optimizer.zero_grad()
        loss.backward()
        fql.optimizer.step()
        fql.step_alpha(metrics["distance"])
        distances.append(metrics["distance"].item())
    assert sum(distances[-300:]) / 300 == pytest.approx(epsilon, rel=0.15)
    assert fql.log_alpha_shift != 0.0


def test_teacher_pairs_are_the_teachers_solves_and_are_rebuilt_on_resume():
    """``teacher_pairs``: Φ solved once at each pair's own state and noise; a run resumed inside the policy phase
    rebuilds the same pairs from the checkpointed seed and takes the same step."""
    torch.manual_seed(0)
    data = bandit_data(512)
    fql = make_fql("gvp", critic=make_critic(), teacher_pairs=1000)
    critic, behaviour, policy = fql.phases()
    run_phase(critic, data, 20)
    run_phase(behaviour, data, 20, seed=1)
    policy.on_start(data)
    pairs = fql.pairs
    assert pairs.index.shape == (1000,) and pairs.noise.shape == pairs.target.shape == (1000, 1)
    head = pairs.index[:64]
    assert torch.allclose(fql.teacher(data.obs[head], pairs.noise[:64]), pairs.target[:64], atol=1e-6)

    resumed = make_fql("gvp", critic=make_critic(), teacher_pairs=1000)
    resumed.load_state_dict(copy.deepcopy(fql.state_dict()))
    resumed.phases()[2].on_resume(data)
    assert all(torch.equal(a, b) for a, b in zip(vars(resumed.pairs).values(), vars(pairs).values()))
    batch = data.batch(torch.arange(256))
    for algorithm in (fql, resumed):
        torch.manual_seed(5)
        algorithm.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(fql.policy.parameters(), resumed.policy.parameters()))
