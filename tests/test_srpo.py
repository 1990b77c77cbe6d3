"""SRPO (issue 23): the score of a behaviour model from its velocity on every path, the regulariser's fixed point
against a known behaviour and Q, the rewarded mode of the bandit, and ``algorithm=srpo`` end to end."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from hydra.errors import ConfigCompositionException

from bandit import bandit_data, make_critic, make_model_factory, run_phase
from conftest import compose_config, run_train
from gaussian_flows import OptimalNet
from genrl import Agent
from genrl.algorithms.srpo import SRPO, WEIGHTINGS
from genrl.building import build_algorithm
from genrl.config_checks import check_config
from genrl.errors import ConfigError
from genrl.models import GenerativeModel
from genrl.models.deterministic import DeterministicPolicy
from genrl.paths import AffinePath, GVPSchedule, ICFMPath, ProbabilityPath, VPSchedule

PATHS = {
    "vpsde": lambda: AffinePath(VPSchedule()),
    "gvp": lambda: AffinePath(GVPSchedule()),
    "icfm": lambda: ICFMPath(0.1),
}


def gaussian_behaviour(path: str, mean: float, std: float, output: str = "velocity") -> GenerativeModel:
    """μ = N(mean, std²) exactly: the network outputs the optimal velocity (or noise) of every t and x."""
    path = PATHS[path]()
    return GenerativeModel(OptimalNet(path, torch.tensor([mean]), torch.tensor([std**2]), output), path, output)


def exact_score(path, t, x, mean: float, std: float):
    """∇_x log μ_t(x) of the noised marginal N(m_t·mean, m_t²·std² + s_t²), m_t and s_t the path's given x_1."""
    marginal = path.marginal(t)
    m, s = marginal.mean_scale.unsqueeze(-1), marginal.std.unsqueeze(-1)
    return -(x - m * mean) / (m**2 * std**2 + s**2)


def smoothed_precision(path: str, std: float, weighting, t_range=(0.02, 0.98), n: int = 20001) -> float:
    """κ = E_t[ω(t)·m_t·s_t / (m_t²·std² + s_t²)] over t ~ U(t_range), by the trapezoid rule in float64."""
    t = torch.linspace(*t_range, n, dtype=torch.float64)
    marginal = PATHS[path]().marginal(t)
    m, s = marginal.mean_scale.double(), marginal.std.double()
    return float(torch.trapezoid(weighting(m, s) * m * s / (m**2 * std**2 + s**2), t) / (t_range[1] - t_range[0]))


@pytest.mark.parametrize("path, output", [("vpsde", "velocity"), ("gvp", "velocity"), ("icfm", "velocity"),
                                          ("vpsde", "noise")])  # fmt: skip
def test_the_score_from_the_network_is_the_exact_gaussian_score(path, output):
    """A network that outputs the optimal velocity (or noise) of N(0.3, 0.5²) (tests/gaussian_flows.py: the linear
    regression E[target | x_t]) yields, through the path's conversion, the exact score of the noised marginal."""
    model = gaussian_behaviour(path, 0.3, 0.5, output)
    t = torch.linspace(0.02, 0.98, 500)
    x = torch.linspace(-3, 3, 500).unsqueeze(-1)
    got = model.score(t, x, torch.zeros(500, 2))
    assert torch.allclose(got, exact_score(model.path, t, x, 0.3, 0.5), atol=1e-4)


def test_a_path_without_a_score_conversion_is_one_line():
    class Unknown(ProbabilityPath):
        def marginal(self, t):
            raise NotImplementedError

        def sample(self, x_0, x_1, t):
            raise NotImplementedError

    with pytest.raises(ValueError, match=r"^Unknown has no conversion from a velocity to a score$"):
        Unknown().velocity_to_score(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1))


class QuadraticCritic:
    """Q(s, a) = −k·(a − q₀)²/2 in both target twins."""

    def __init__(self, k: float, q0: float) -> None:
        self.k, self.q0 = k, q0

    def q_target(self, obs, action):
        q = -0.5 * self.k * (action[:, 0] - self.q0) ** 2
        return q, q


@pytest.mark.parametrize("path, weighting", [("vpsde", "vds"), ("gvp", "vds"), ("icfm", "vds"), ("gvp", "score"),
                                             ("icfm", "stable")])  # fmt: skip
def test_the_policy_converges_to_the_mode_of_the_tilted_smoothed_behaviour(path, weighting):
    """Behaviour N(m, c²), Q = −k(a − q₀)²/2: the regulariser's expected gradient is κ·(a − m) with
    κ = E_t[ω(t)·m_t·s_t/(m_t²c² + s_t²)] (κ → 1/c², the log-density's, as the time range shrinks to the data end),
    so SRPO's fixed point is a* = (κ·m + β·k·q₀)/(κ + β·k), the mode of N(m, 1/κ)·exp(β·Q)."""
    torch.manual_seed(0)
    mean, std, k, q0, beta = -0.5, 0.5, 1.0, 1.0, 0.3
    srpo = SRPO(
        lambda: DeterministicPolicy(2, 1, (8,), [-2.0], [2.0]), lambda: gaussian_behaviour(path, mean, std),
        QuadraticCritic(k, q0), lambda p: None, lambda p: torch.optim.Adam(p, lr=3e-3),
        beta=beta, behaviour_epochs=0, epochs=1, weighting=weighting, noise_baseline=True,
    )  # fmt: skip
    srpo.set_phase_steps({"policy": 800})
    batch = SimpleNamespace(obs=torch.zeros(1024, 2))  # one state: the policy's update reads only obs
    for _ in range(800):
        srpo.update(batch)
    kappa = smoothed_precision(path, std, WEIGHTINGS[weighting])
    expected = (kappa * mean + beta * k * q0) / (kappa + beta * k)
    action = srpo.policy(torch.zeros(1, 2)).item()
    assert action == pytest.approx(expected, abs=0.02), (action, expected, kappa)


@pytest.mark.slow
def test_srpo_picks_the_rewarded_mode_of_the_bandit():
    """Bimodal behaviour (a ≈ ±1), reward 1 when sign(a) = sign(s₀): the deterministic policy, regularised to the
    learned behaviour model, lands on the rewarded mode and stays inside the behaviour's support."""
    torch.manual_seed(0)
    data = bandit_data()
    srpo = SRPO(
        lambda: DeterministicPolicy(2, 1, (64, 64)), make_model_factory("gvp"), make_critic(),
        lambda p: torch.optim.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3),
        beta=1.0, behaviour_epochs=1, epochs=1, behaviour_batch_size=256, batch_size=256,
    )  # fmt: skip
    behaviour, critic, policy = srpo.phases()
    run_phase(behaviour, data, 600)
    run_phase(critic, data, 300, seed=1)
    srpo.set_phase_steps({"policy": 400})
    run_phase(policy, data, 400, seed=2)
    obs = torch.randn(1000, 2)
    obs = obs[obs[:, 0].abs() > 0.2]  # contexts whose rewarded side the critic can tell
    with torch.no_grad():
        action = srpo.policy(obs)[:, 0]
    rewarded = (torch.sign(action) == torch.sign(obs[:, 0])).float().mean().item()
    in_support = ((action.abs() - 1.0).abs() < 0.3).float().mean().item()
    assert rewarded > 0.95 and in_support > 0.9, (rewarded, in_support)


def test_srpo_trains_and_deploys_from_its_yaml(tmp_path, smoke_args):
    """``python train.py algorithm=srpo``: three phases, the path recorded (μ uses it), only the ODE sampler's keys
    unused; the checkpoint deploys the deterministic policy (the same action twice, no ODE)."""
    run_train([*smoke_args, "algorithm=srpo", "path=icfm", "algorithm.policy.hidden_sizes=[16]"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"], results["path"]) == ("srpo", "iql", "icfm")
    assert results["unused_config"] == ["sampling.steps", "sampling.method"]
    assert list(results["phase_steps"]) == ["behaviour", "critic", "policy"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert type(agent.policy.sample.__self__).__name__ == "DeterministicPolicy"
    obs = torch.linspace(-1, 1, 3).numpy()
    first, second = agent.act(obs), agent.act(obs)
    assert first.shape == (1,) and (first == second).all() and abs(first[0]) <= 2.0  # Pendulum's box [−2, 2]


@pytest.mark.parametrize("override", ["algorithm.weighting=sds", "algorithm.lr_schedule=linear"])
def test_srpo_choices_are_typed(override):
    with pytest.raises(ConfigCompositionException, match=f"Error merging override {override}"):
        compose_config(["algorithm=srpo", override])


def test_srpo_time_range_is_checked_in_one_line():
    with pytest.raises(ConfigError, match=r"^algorithm.t_max=1.0: expected in \(0, 1\)$"):  # the declared range
        check_config(compose_config(["algorithm=srpo", "budget=smoke", "algorithm.t_max=1.0"]))
    cfg = compose_config(["algorithm=srpo", "budget=smoke", "algorithm.t_min=0.5", "algorithm.t_max=0.4"])
    with pytest.raises(ConfigError, match=r"^genrl.algorithms.srpo.SRPO: algorithm.t_min=0.5, algorithm.t_max=0.4: "
                                          r"expected t_min < t_max$"):  # fmt: skip
        build_algorithm(cfg, 3, 1, torch.device("cpu"), ([-1.0], [1.0]))


def test_a_path_without_a_score_is_refused_when_srpo_is_built():
    class Unknown(ICFMPath):
        def velocity_to_score(self, velocity, x_t, t):
            return ProbabilityPath.velocity_to_score(self, velocity, x_t, t)

    def make_behaviour():
        model = gaussian_behaviour("icfm", 0.0, 1.0)
        model.path = model.net.path = Unknown(0.1)
        return model

    with pytest.raises(ValueError, match=r"^path: Unknown has no conversion from a velocity to a score; SRPO"):
        SRPO(lambda: DeterministicPolicy(2, 1, (8,)), make_behaviour, None, lambda p: None, lambda p: None,
             beta=1.0, behaviour_epochs=1, epochs=1)  # fmt: skip
