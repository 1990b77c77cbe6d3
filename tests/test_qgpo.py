"""QGPO (issue 23): the guided sampler against the tilted Gaussian with the exact intermediate energy (every path),
contrastive energy prediction recovering it, the rewarded mode of the bandit, and ``algorithm=qgpo`` end to end."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bandit import bandit_data, make_model_factory, run_phase
from conftest import compose_config, run_train
from gaussian_flows import OptimalNet
from genrl import Agent
from genrl.algorithms.qgpo import QGPO
from genrl.building import build_algorithm
from genrl.cli.eval import main as eval_main
from genrl.config_checks import check_config
from genrl.critics.insupport import InSupportCritic
from genrl.errors import ConfigError
from genrl.models import GenerativeModel
from genrl.models.guided import GuidedPolicy
from genrl.networks import DoubleQ
from genrl.paths import AffinePath, GVPSchedule, ICFMPath, ProbabilityPath, VPSchedule

PATHS = {
    "vpsde": lambda: AffinePath(VPSchedule()),
    "gvp": lambda: AffinePath(GVPSchedule()),
    "icfm": lambda: ICFMPath(0.1),
}
MEAN, STD, K, Q0, BETA = -0.5, 0.5, 1.0, 1.0, 2.0  # μ = N(−0.5, 0.5²), Q = −(a − 1)²/2, β = 2


def gaussian_behaviour(path: str, output: str = "velocity") -> GenerativeModel:
    path = PATHS[path]()
    return GenerativeModel(OptimalNet(path, torch.tensor([MEAN]), torch.tensor([STD**2]), output), path, output)


def tilted() -> tuple[float, float]:
    """Mean and std of μ·exp(β·Q): precision 1/std² + βk."""
    precision = 1.0 / STD**2 + BETA * K
    return (MEAN / STD**2 + BETA * K * Q0) / precision, precision**-0.5


class ExactEnergy(nn.Module):
    """E_t(x) = log E_{μ(a | x_t = x)}[exp(β·Q(a))]: a | x_t is Gaussian (precision 1/c² + m_t²/s_t²)."""

    def __init__(self, path: ProbabilityPath) -> None:
        super().__init__()
        self.path = path

    def forward(self, t, x, cond):
        marginal = self.path.marginal(t)
        m, s = marginal.mean_scale, marginal.std
        var = 1.0 / (1.0 / STD**2 + m**2 / s**2)
        mean = var * (MEAN / STD**2 + m * x[:, 0] / s**2)
        spread = 1.0 + BETA * K * var
        return -BETA * K * (mean - Q0) ** 2 / (2 * spread) - 0.5 * torch.log(spread)


def guided(path: str, output: str = "velocity", t_min: float = 0.005) -> GuidedPolicy:
    return GuidedPolicy(2, 1, gaussian_behaviour(path, output), hidden_sizes=(8,), guidance_t_min=t_min)


@pytest.mark.parametrize("path, output", [("vpsde", "velocity"), ("vpsde", "noise"), ("gvp", "velocity"),
                                          ("icfm", "velocity")])  # fmt: skip
def test_guided_samples_with_the_exact_energy_follow_the_tilted_behaviour(path, output):
    """v_μ + c_t·∇E_t with the exact E_t transports N(0, 1) to μ·exp(β·Q) = N(0, 0.408²) on every path."""
    torch.manual_seed(0)
    policy = guided(path, output)
    policy.energy = ExactEnergy(policy.behaviour.path)
    with torch.no_grad():
        actions = policy.sampler(steps=200)(torch.zeros(20000, 2))[:, 0]
    mean, std = tilted()
    assert actions.mean().item() == pytest.approx(mean, abs=0.02)
    assert actions.std().item() == pytest.approx(std, abs=0.02)


def test_without_guidance_the_behaviour_is_sampled():
    torch.manual_seed(0)
    policy = guided("gvp")
    policy.guidance_scale = 0.0
    with torch.no_grad():
        actions = policy.sampler(steps=100)(torch.zeros(20000, 2))[:, 0]
    assert actions.mean().item() == pytest.approx(MEAN, abs=0.02)
    assert actions.std().item() == pytest.approx(STD, abs=0.02)


class QuadraticCritic:
    def score(self, obs, action):
        return -0.5 * K * (action[:, 0] - Q0) ** 2


@pytest.mark.parametrize("path", ["vpsde", "gvp"])
def test_contrastive_energy_prediction_learns_the_guidance(path):
    """The energy trained by CEP on exact behaviour support samples and the quadratic Q guides μ's ODE to the tilted
    Gaussian (within the learned energy's error)."""
    torch.manual_seed(0)
    qgpo = QGPO(lambda: guided(path, t_min=0.02), QuadraticCritic(), lambda p: None,
                lambda p: torch.optim.Adam(p, lr=3e-3), beta=BETA, behaviour_epochs=1, epochs=1)  # fmt: skip
    qgpo.policy.energy = type(qgpo.policy.energy)(2, 1, (64, 64), 16)
    qgpo.optimizer = torch.optim.Adam(qgpo.policy.energy.parameters(), lr=3e-3)
    obs = torch.zeros(128, 2)
    for _ in range(400):
        actions = MEAN + STD * torch.randn(128, 32, 1)
        q = -0.5 * K * (actions[..., 0] - Q0) ** 2
        loss = qgpo.energy_loss(obs, actions, q)
        qgpo.optimizer.zero_grad()
        loss.backward()
        qgpo.optimizer.step()
    with torch.no_grad():
        actions = qgpo.policy.sampler(steps=50)(torch.zeros(10000, 2))[:, 0]
    mean, std = tilted()
    assert actions.mean().item() == pytest.approx(mean, abs=0.06), actions.mean()
    assert actions.std().item() == pytest.approx(std, abs=0.06), actions.std()


@pytest.mark.slow
def test_qgpo_picks_the_rewarded_mode_of_the_bandit():
    """Bimodal behaviour, reward 1 when sign(a) = sign(s₀): the energy learned from the in-support Q guides μ's
    samples onto the rewarded mode (μ alone puts half of them on the other)."""
    torch.manual_seed(0)
    data = bandit_data()
    critic = InSupportCritic(DoubleQ(2, 1, [64, 64]), lambda p: torch.optim.Adam(p, lr=1e-3), epochs=1,
                             batch_size=256, support_actions=8, polyak=0.05)  # fmt: skip
    make_behaviour = make_model_factory("vpsde")
    qgpo = QGPO(lambda: GuidedPolicy(2, 1, make_behaviour(), hidden_sizes=(64, 64), guidance_scale=1.0), critic,
                lambda p: torch.optim.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3), beta=10.0,
                behaviour_epochs=1, epochs=1, behaviour_batch_size=256, batch_size=128, support_actions=16,
                support_steps=5)  # fmt: skip
    behaviour, critic_phase, energy = qgpo.phases()
    run_phase(behaviour, data, 600)
    run_phase(critic_phase, data, 300, seed=1)
    run_phase(energy, data, 300, seed=2)
    obs = torch.randn(1000, 2)
    obs = obs[obs[:, 0].abs() > 0.2]
    with torch.no_grad():
        action = qgpo.policy.sampler(steps=20)(obs)[:, 0]
    rewarded = (torch.sign(action) == torch.sign(obs[:, 0])).float().mean().item()
    assert rewarded > 0.85, rewarded


class LinearQ:
    """A stand-in critic: Q̄(s, a) = c·Σa, so Q̄'s spread over μ's support is c times that of Σa."""

    epochs, batch_size = 1, 256

    def __init__(self, c: float) -> None:
        self.c = c

    def score(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.c * action.sum(-1)


def test_beta_in_support_std_units_gives_the_same_energy_targets_at_any_reward_scale():
    """q_normalization=support_std: σ_Q = sqrt(mean_s var_k Q̄(s, a_k)) scales with Q (c = 1 vs 40, same μ and
    draws), so softmax(β·Q̄/σ_Q) is unchanged; "none" keeps σ = 1 (β in Q's units, the paper's) and saves σ_Q."""
    data = bandit_data()
    behaviour = make_model_factory("vpsde")()
    scales = {}
    for normalization, c in (("support_std", 1.0), ("support_std", 40.0), ("none", 40.0)):
        qgpo = QGPO(lambda: GuidedPolicy(2, 1, behaviour, hidden_sizes=(8,)), LinearQ(c), torch.optim.Adam,
                    torch.optim.Adam, beta=1.0, behaviour_epochs=1, epochs=1, support_actions=8, support_steps=3,
                    q_normalization=normalization)  # fmt: skip
        torch.manual_seed(0)
        qgpo.phases()[-1].on_start(data)
        scales[normalization, c] = qgpo.q_scale
    assert scales["support_std", 40.0] == pytest.approx(40.0 * scales["support_std", 1.0], rel=1e-5)
    assert scales["none", 40.0] == 1.0 and scales["support_std", 1.0] > 0.0
    q = torch.randn(4, 8)
    one, forty = (torch.softmax(c * q / scales["support_std", c], dim=1) for c in (1.0, 40.0))
    torch.testing.assert_close(one, forty)
    assert QGPO.state_scalars == ("q_scale",)  # checkpointed: a resumed energy phase keeps its unit
    refused = r"^algorithm.q_normalization must be one of \('none', 'support_std'\), got 'std'$"
    with pytest.raises(ValueError, match=refused):
        QGPO(lambda: GuidedPolicy(2, 1, behaviour), LinearQ(1.0), torch.optim.Adam, torch.optim.Adam, beta=1.0,
             behaviour_epochs=1, epochs=1, q_normalization="std")  # fmt: skip


@pytest.mark.parametrize("path", ["vpsde", "icfm"])
def test_qgpo_trains_and_deploys_from_its_yaml(tmp_path, smoke_args, path, capsys):
    run_train([*smoke_args, "algorithm=qgpo", f"path={path}", "critic.q_net.hidden_sizes=[16]",
               "algorithm.policy.hidden_sizes=[16]"], tmp_path)  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"], results["path"]) == ("qgpo", "insupport", path)
    assert results["unused_config"] == ["critic.v_net"]
    assert list(results["phase_steps"]) == ["behaviour", "critic", "policy"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)
    if path == "vpsde":  # genrl-eval --guidance-scale: w at evaluation, without retraining
        own, same, strong = (_evaluate(capsys, tmp_path / "run", *w) for w in ([], ["1.0"], ["50"]))
        assert "guidance_scale" not in own and same["guidance_scale"] == 1.0 and strong["guidance_scale"] == 50.0
        assert same["returns"] == own["returns"] and strong["returns"] != own["returns"]


def _evaluate(capsys, run, *guidance: str) -> dict:
    capsys.readouterr()
    assert eval_main([str(run), "--episodes", "2", *(["--guidance-scale", *guidance] if guidance else [])]) == 0
    return json.loads(capsys.readouterr().out)


def test_qgpo_options_are_checked_in_one_line():
    assert compose_config(["algorithm=qgpo"]).critic.name == "insupport"
    with pytest.raises(ConfigError, match=r"^critic=td: algorithm=qgpo learns from insupport \(critic=insupport\)$"):
        check_config(compose_config(["algorithm=qgpo", "critic=td"]))
    with pytest.raises(ConfigError, match=r"^algorithm.policy.guidance_scale=-1.0: expected >= 0"):
        check_config(compose_config(["algorithm=qgpo", "algorithm.policy.guidance_scale=-1.0"]))
    with pytest.raises(ConfigError, match=r"^algorithm.beta=-1.0: expected >= 0"):
        check_config(compose_config(["algorithm=qgpo", "algorithm.beta=-1.0"]))


def test_a_path_without_a_score_is_refused_when_qgpo_is_built():
    class Unknown(ICFMPath):
        def velocity_to_score(self, velocity, x_t, t):
            return ProbabilityPath.velocity_to_score(self, velocity, x_t, t)

    model = gaussian_behaviour("icfm")
    model.path = Unknown(0.1)
    with pytest.raises(ValueError, match=r"^path: Unknown has no conversion from a velocity to a score; QGPO"):
        GuidedPolicy(2, 1, model)


def test_the_root_gives_the_guided_policy_the_run_s_generative_model():
    cfg = compose_config(["algorithm=qgpo", "path=gvp", "budget=smoke", "algorithm.policy.hidden_sizes=[8]"])
    qgpo = build_algorithm(cfg, 3, 1, torch.device("cpu"), ([-1.0], [1.0]))
    assert type(qgpo.acting_policy) is GuidedPolicy and type(qgpo.behaviour) is GenerativeModel
    assert qgpo.behaviour is qgpo.policy.behaviour
