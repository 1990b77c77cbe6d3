"""Algorithms as plug-ins (issue 22, item 1): an algorithm declares its policy, its critics, its sampler and its
candidate scorer, and the composition root builds from that alone. IDQL is the worked example (one module, one YAML).
"""

import ast
import json
from pathlib import Path

import pytest
import torch

from bandit import bandit_data, make_critic, run_phase
from conftest import REPO, compose_config, run_train
from genrl import Agent
from genrl.acting.policy import ActingPolicy
from genrl.algorithms import GMPO, IQL, BehaviourCloning
from genrl.algorithms.idql import IDQL
from genrl.building import algorithm_class, build_algorithm
from genrl.config_checks import check_config
from genrl.errors import ConfigError

TINY = ["net.hidden_sizes=[8,4]", "critic.q_net.hidden_sizes=[8]", "critic.v_net.hidden_sizes=[8]"]
#: The composition root, acting, the checks, the entry points and the loop: none may know an algorithm by name.
ALGORITHM_BLIND = ["building.py", "running.py", "config_checks.py", "acting", "cli", "training", "evaluation"]


ALGORITHM_NAMES = {"GMPO", "GMPG", "IQL", "IDQL", "SRPO", "DQL", "SfBC", "QGPO", "FQL", "BehaviourCloning",
                   "own_policy"}
MODEL_TYPES = {"GenerativeModel", "GaussianPolicy", "DeterministicPolicy", "GuidedPolicy", "OneStepPolicy", "Algorithm",
               *ALGORITHM_NAMES}  # fmt: skip


def names_in_code(source: str) -> set[str]:
    """Identifiers the code uses (names, attributes, imported names; not its docstrings or comments), and
    ``isinstance:<type>`` for each type an ``isinstance`` call branches on."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            found.update(f"isinstance:{n.id}" for n in ast.walk(node.args[1]) if isinstance(n, ast.Name))
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names)
    return found


def test_the_composition_root_names_no_algorithm_and_branches_on_no_model_type():
    offenders = {}
    for entry in ALGORITHM_BLIND:
        root = REPO / "src" / "genrl" / entry
        for file in [root] if root.is_file() else sorted(root.rglob("*.py")):
            used = names_in_code(file.read_text())
            named = used & ALGORITHM_NAMES | {n for n in used if n.removeprefix("isinstance:") in MODEL_TYPES
                                               and n.startswith("isinstance:")}  # fmt: skip
            if named:
                offenders[str(file.relative_to(REPO))] = sorted(named)
    assert offenders == {}


def test_the_check_sees_a_branch_on_a_model_type():
    used = names_in_code("if isinstance(policy, GenerativeModel):\n    pass  # GMPO")
    assert used == {"isinstance", "policy", "GenerativeModel", "isinstance:GenerativeModel"}


@pytest.mark.parametrize(
    "overrides, cls",
    [(["algorithm=gmpo"], GMPO), (["algorithm=iql", "path=none"], IQL), (["algorithm=idql"], IDQL),
     (["algorithm=bc", "critic=none"], BehaviourCloning)],
)  # fmt: skip
def test_the_root_builds_what_the_class_declares(overrides, cls):
    cfg = compose_config([*overrides, *TINY, "budget=smoke"])
    algorithm = build_algorithm(cfg, 3, 1, torch.device("cpu"), ([-1.0], [1.0]))
    assert type(algorithm) is cls is algorithm_class(cfg)
    assert (algorithm.critic is None) == (cfg.critic.name == "none")
    assert type(algorithm.acting_policy).__name__ == ("GaussianPolicy" if cls.policy_key else "GenerativeModel")


def test_a_critic_the_algorithm_does_not_declare_is_one_line():
    with pytest.raises(ConfigError, match=r"^critic=none: algorithm=gmpo learns from iql \(critic=iql\)$"):
        check_config(compose_config(["algorithm=gmpo", "critic=none"]))
    with pytest.raises(ConfigError, match=r"sampling.candidates=16: critic=none has nothing to score candidates"):
        check_config(compose_config(["algorithm=bc", "critic=none", "sampling.candidates=16"]))


def test_bc_without_a_critic_trains_none_and_says_so(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=bc", "critic=none"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["critic"], results["unused_config"], list(results["phase_steps"])) == ("none", ["critic"],
                                                                                           ["policy"])  # fmt: skip
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert "critic" not in state["algorithm"]


class KnownCritic:
    """Q(s, a) = a₀·s₀ and V(s) = 0.2: the advantage of action a in state s is a₀·s₀ − 0.2."""

    expectile, advantage_scale = 0.7, 1.0

    def score(self, obs, action):
        return action[:, 0] * obs[:, 0]

    def v(self, obs):
        return torch.full((obs.shape[0],), 0.2)


def test_idql_weights_are_the_implicit_policys():
    score, unit = IDQL.candidate_scorer(KnownCritic(), {"selection": "softmax"})
    obs, action = torch.ones(3, 1), torch.tensor([[2.2], [-0.3], [0.7]])  # A = 2.0, −0.5, 0.5
    expected = torch.tensor([0.7 / 2.0, 0.3 / 0.5, 0.7 / 0.5]).log()
    assert unit == 1.0 and torch.allclose(score(obs, action), expected)
    greedy, _ = IDQL.candidate_scorer(KnownCritic(), {"selection": "argmax"})
    assert torch.equal(greedy(obs, action), action[:, 0])


def test_idql_resampling_moves_behaviour_samples_to_the_rewarded_mode():
    """On the bimodal bandit, K = 32 behaviour candidates (both modes alike) resampled by w land on the rewarded
    mode far more often than the behaviour policy's 50 %, and less surely than Q's argmax."""
    torch.manual_seed(0)
    data = bandit_data()
    critic = make_critic()
    run_phase(critic.phase(), data, 300)

    def behaviour(obs):
        return torch.sign(torch.rand(obs.shape[0], 1) - 0.5) + 0.1 * torch.randn(obs.shape[0], 1)

    obs = torch.randn(2000, 2)
    rewarded = {}
    for selection in ("softmax", "argmax"):
        score, unit = IDQL.candidate_scorer(critic, {"selection": selection})
        act = ActingPolicy(behaviour, None, 32, score, selection, 1.0, unit)
        rewarded[selection] = (torch.sign(act(obs)[:, 0]) == torch.sign(obs[:, 0])).float().mean().item()
    assert 0.75 < rewarded["softmax"] < rewarded["argmax"] and rewarded["argmax"] > 0.95, rewarded


def test_idql_trains_and_deploys_from_its_yaml_alone(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=idql"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["algorithm"], results["critic"]) == ("idql", "iql")
    assert results["sampling"]["candidates"] == 32 and results["sampling"]["selection"] == "softmax"
    assert list(results["phase_steps"]) == ["critic", "policy"]
    agent = Agent.from_checkpoint(tmp_path / "run")
    assert agent.policy.candidates == 32 and agent.policy.score_scale == 1.0
    assert agent.act(torch.zeros(3).numpy()).shape == (1,)


def test_the_worked_example_is_one_module_and_one_yaml():
    module = Path(REPO / "src/genrl/algorithms/idql.py").read_text()
    assert len(module.splitlines()) < 70 and (REPO / "conf/algorithm/idql.yaml").exists()


def test_idqls_greedy_variant_under_recipe_fast_is_bc_with_selection(tmp_path):
    """recipe=fast's BC-GVP (EMA 0.999, lr 1e-3, K = 16 by the IQL critic's Q at noise 0.5) is IDQL's argmax variant
    step for step: the same critic, policy and evaluation scores, so BC-GVP's rows stand for it (docs/algorithms.md)."""
    common = ["recipe=fast", "budget=smoke", "logger=none", "seed=3"]
    greedy = ["sampling.selection=argmax", "sampling.candidates=16", "sampling.noise_scale=0.5"]
    for name, args in (("bc", ["algorithm=bc"]), ("idql", ["algorithm=idql", *greedy])):
        run_train([*common, *args, f"hydra.run.dir={tmp_path / name}"], tmp_path)
    bc, idql = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("bc", "idql"))
    assert bc["sampling"] == idql["sampling"] and bc["critic"] == idql["critic"] == "iql"
    assert (bc["score_final"], bc["curve"]) == (idql["score_final"], idql["curve"])
    states = [torch.load(tmp_path / n / "checkpoint.pt", weights_only=False)["algorithm"] for n in ("bc", "idql")]
    for key in ("policy", "critic"):
        flat = [dict(_tensors(s[key])) for s in states]
        assert len(flat[0]) > 4 and flat[0].keys() == flat[1].keys()
        assert all(torch.equal(flat[0][k], flat[1][k]) for k in flat[0]), key


def _tensors(state, prefix=""):
    """(dotted key, tensor) pairs of a nested state dict."""
    if isinstance(state, torch.Tensor):
        yield prefix, state
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from _tensors(value, f"{prefix}.{key}")
