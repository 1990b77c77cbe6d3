"""Every algorithm × path × env composes and instantiates; per-task values come from spec §8; typos fail."""

import subprocess
import sys

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from conftest import CONF, REPO, SUBPROCESS_ENV, compose_config
from genrl.algorithms import GMPG, GMPO
from genrl.building import build_algorithm

ALGORITHMS = ["gmpo", "gmpg"]
PATHS = ["vpsde", "gvp", "icfm"]
ENVS = sorted(p.stem for p in (CONF / "env").glob("*.yaml"))
DIMS = {"demo": (3, 1), "hopper": (11, 3), "walker2d": (17, 6), "halfcheetah": (17, 6), "minari": (3, 1),
        "lunarlander": (8, 2), "custom": (3, 1)}
TINY = ["net.hidden_sizes=[8,4]", "critic.q_net.hidden_sizes=[8]", "critic.v_net.hidden_sizes=[8]"]


def test_all_nine_d4rl_locomotion_tasks_and_the_demo_exist():
    robots, datasets = ("halfcheetah", "hopper", "walker2d"), ("medium", "medium-replay", "medium-expert")
    d4rl = [f"{r}-{d}-v2" for r in robots for d in datasets]
    assert set(d4rl) | {"demo"} <= set(ENVS)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_combination_composes_and_instantiates(algorithm, path, env):
    extra = {"minari": ["dataset.dataset_id=some/data-v0"],
             "custom": ["dataset.path=/data/mine.npz", "env.eval_env_id=Pendulum-v1"]}.get(env, [])  # fmt: skip
    cfg = compose_config([f"algorithm={algorithm}", f"path={path}", f"env={env}", *TINY, *extra])
    assert (cfg.algorithm.name, cfg.path.name) == (algorithm, path)
    assert cfg.env.name == {"minari": "some/data-v0", "custom": "mine"}.get(env, env)  # custom: the file's stem
    expected = "noise" if (algorithm, path) == ("gmpo", "vpsde") else "velocity"
    assert cfg.model.parameterization == expected
    obs_dim, action_dim = DIMS[env.split("-")[0]]
    algo = build_algorithm(cfg, obs_dim, action_dim, torch.device("cpu"))
    assert isinstance(algo, {"gmpo": GMPO, "gmpg": GMPG}[algorithm])
    with torch.no_grad():
        actions = algo.policy.sample(torch.randn(2, obs_dim), steps=2)
    assert actions.shape == (2, action_dim)


@pytest.mark.parametrize(
    ("overrides", "key", "value"),
    [
        (["algorithm=gmpo", "env=hopper-medium-v2"], "algorithm.beta", 16.0),
        (["algorithm=gmpo", "env=hopper-medium-v2"], "algorithm.max_weight", 1000.0),
        (["algorithm=gmpo", "env=walker2d-medium-replay-v2"], "algorithm.max_weight", 10000.0),
        (["algorithm=gmpo", "env=halfcheetah-medium-replay-v2"], "critic.epochs", 12000.0),
        (["algorithm=gmpg", "env=halfcheetah-medium-replay-v2"], "critic.epochs", 12000.0),
        (["algorithm=gmpg", "env=walker2d-medium-expert-v2"], "critic.epochs", 2000.0),
        (["algorithm=gmpg", "env=hopper-medium-v2"], "critic.epochs", 5000.0),
        (["algorithm=gmpg", "env=walker2d-medium-replay-v2"], "algorithm.optimizer.lr", 2e-5),
        (["algorithm=gmpg", "env=hopper-medium-replay-v2"], "algorithm.epochs", 1000.0),
        (["algorithm=gmpg", "env=hopper-medium-expert-v2"], "algorithm.beta", 4.0),
        (["algorithm=gmpg", "env=hopper-v5-medium"], "algorithm.beta", 20.0),  # inherits hopper-medium-v2
        (["algorithm=gmpg", "env=hopper-medium-v2"], "algorithm.batch_size", 40960),
        (["algorithm=gmpo", "env=hopper-medium-v2"], "env.eval_env_id", "Hopper-v4"),
        (["env=walker2d-medium-v2"], "env.eval_env_id", "Walker2d-v4"),
        (["env=walker2d-medium-v2"], "dataset.file_name", "walker2d_medium-v2.hdf5"),
        (["env=halfcheetah-medium-expert-v2"], "dataset.file_name", "halfcheetah_medium_expert-v2.hdf5"),
        (["env=hopper-v5-medium"], "env.eval_env_id", "Hopper-v5"),
        (["env=halfcheetah-medium-v2"], "env.ref_max_score", 12135.0),
        (["env=demo"], "dataset.name", "npz"),
        (["env=hopper-medium-v2"], "dataset.name", "d4rl"),
        (["env=hopper-medium-v2", "dataset=npz", "dataset.path=x.npz"], "dataset.path", "x.npz"),  # any loader
        (["env=hopper-medium-v2", "dataset=npz"], "dataset.path", None),  # no npz file for this task: asked for
        (["env=demo", "dataset=minari", "dataset.dataset_id=a/b-v0"], "dataset.dataset_id", "a/b-v0"),
        (["env=hopper-medium-v2", "dataset.path=y.hdf5"], "dataset.path", "y.hdf5"),  # the command line wins
        (["env=hopper-v5-medium"], "dataset.file_name", None),
        (["path=vpsde"], "path.schedule.beta_0", 0.1),
        (["path=icfm"], "path.sigma", 0.1),
    ],
)
def test_task_hyperparameters_follow_the_reference(overrides, key, value):
    cfg = compose_config(overrides)

    assert OmegaConf.select(cfg, key) == value


def test_budgets_convert_reference_epochs_to_steps():
    from genrl.training.budget import Budget
    from genrl.training.phases import Phase

    phase = Phase("policy", epochs=10000, batch_size=4096, update=lambda b: {})
    assert Budget().steps_of(phase, 999_998) == 245 * 10000  # ceil(N/B) · epochs (spec §8: 2.44M)
    assert Budget(fraction=0.1).steps_of(phase, 999_998) == 245_000
    assert Budget(steps=7).steps_of(phase, 999_998) == 7
    assert Budget(steps=7, phase_steps={"policy": 9}).steps_of(phase, 999_998) == 9
    assert Budget(max_batch_size=256).batch_size(phase) == 256
    assert Budget(evaluations=4).evaluation_steps(10) == {2, 5, 8, 10}


def test_a_typo_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match="bta"):
        compose_config(["algorithm.bta=3"])


def test_a_wrong_type_fails_at_composition():
    with pytest.raises((ConfigCompositionException, ValidationError), match="beta"):
        compose_config(["algorithm.beta=high"])


def test_a_wrong_type_on_the_command_line_is_one_clear_message(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "algorithm.beta=high"],
        cwd=tmp_path, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "algorithm.beta" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("algorithm", ["gmpo", "gmpg", "bc"])
def test_recipe_fast_composes_its_ingredients_and_budget_smoke_still_sizes_it(algorithm):
    cfg = compose_config([f"algorithm={algorithm}", "recipe=fast", "env=hopper-v5-medium"])
    assert cfg.recipe_name == "fast" and cfg.budget.name == "minutes" and cfg.normalize_observations
    candidates = 1 if algorithm == "gmpo" else 16  # GMPO acts with one action per state (docs/benchmarks.md)
    assert (cfg.sampling.candidates, cfg.sampling.selection, cfg.sampling.noise_scale) == (candidates, "argmax", 0.5)
    assert cfg.critic.polyak == 0.02 and cfg.budget.phase_steps.critic == 20000
    assert cfg.algorithm.ema_decay == 0.999
    if algorithm != "bc":
        assert cfg.algorithm.advantage_normalization == "std" and cfg.algorithm.beta == 1.0
    expected_policy_steps = 40 if algorithm == "gmpg" else 20000  # GMPG counts policy-gradient iterations
    assert cfg.budget.phase_steps.policy == expected_policy_steps
    build_algorithm(compose_config([f"algorithm={algorithm}", "recipe=fast", *TINY]), 3, 1, torch.device("cpu"))
    smoke = compose_config([f"algorithm={algorithm}", "recipe=fast", "budget=smoke"])
    assert smoke.budget.name == "smoke" and smoke.budget.steps == 6 and smoke.sampling.steps == 4
    assert smoke.budget.phase_steps.policy is None and smoke.sampling.candidates == candidates


#: what each prior-work recipe file sets against its algorithm's paper defaults, and why (docs/algorithms.md)
PRIOR_WORK_FAST = {
    # the in-support backup is SARSA on μ: at α = 1 in Q's units the support's softmax is a hard max and Q diverged
    # and at α = 0 one support action is an unbiased backup, about half the time per step of K = 4: 12k steps
    "sfbc": ({"critic.alpha": 0.0, "critic.support_actions": 1, "budget.phase_steps.critic": 12000},
             {"critic.alpha": 1.0, "critic.support_actions": 16}),
    "qgpo": ({"critic.alpha": 0.0, "critic.support_actions": 1, "budget.phase_steps.critic": 12000,
              "algorithm.beta": 0.8, "algorithm.q_normalization": "support_std", "sampling.noise_scale": 0.5},
             {"critic.alpha": 1.0, "critic.support_actions": 16, "algorithm.beta": 3.0,
              "algorithm.q_normalization": "none", "sampling.noise_scale": 1.0}),
    # the regulariser's gradient with the control variate b = 1 (one draw of ω·ε̂ per state is mostly noise)
    # and a weak pull of Q in σ_A units (the 20k-step critic's gradient is wrong off the data)
    "srpo": ({"algorithm.noise_baseline": True, "algorithm.beta": 0.01},
             {"algorithm.noise_baseline": False, "algorithm.beta": 0.05}),
    # the behaviour model learns as BC's does under the recipe (EMA, 1e-3); acting is the paper's resampling
    "idql": ({"algorithm.ema_decay": 0.999, "algorithm.optimizer.lr": 1e-3, "sampling.candidates": 32,
              "sampling.selection": "softmax", "sampling.noise_scale": 1.0},
             {"algorithm.ema_decay": None, "algorithm.optimizer.lr": 1e-4}),
    # from scratch the joint phase's policy fell below the data and its TD critic ranked candidates worse than chance
    "dql": ({"algorithm.behaviour_epochs": 1.0, "algorithm.critic_epochs": 1.0, "budget.phase_steps.policy": 2000},
            {"algorithm.behaviour_epochs": 0.0, "algorithm.critic_epochs": 0.0}),
}  # fmt: skip


@pytest.mark.parametrize("algorithm", sorted(PRIOR_WORK_FAST))
def test_prior_work_recipe_fast_sets_its_measured_choices_over_the_paper_defaults(algorithm):
    fast, paper = PRIOR_WORK_FAST[algorithm]
    cfg = compose_config([f"algorithm={algorithm}", "recipe=fast", "env=hopper-v5-medium"])
    default = compose_config([f"algorithm={algorithm}", "env=hopper-v5-medium"])
    assert {key: OmegaConf.select(cfg, key) for key in fast} == fast
    assert {key: OmegaConf.select(default, key) for key in paper} == paper
    build_algorithm(compose_config([f"algorithm={algorithm}", "recipe=fast", *TINY]), 3, 1, torch.device("cpu"))


def test_a_critics_recipe_options_come_with_the_critic_whatever_algorithm_chose_it():
    """conf/critic_recipe/insupport_fast.yaml and conf/budget_critic/minutes_insupport.yaml: SfBC's and QGPO's critic
    (their YAML picks it) and any other run on critic=insupport get them; a command-line value still wins."""
    for chosen in (["algorithm=sfbc"], ["algorithm=qgpo"], ["algorithm=gmpo", "critic=insupport"]):
        cfg = compose_config([*chosen, "recipe=fast"])
        assert (cfg.critic.alpha, cfg.critic.support_actions, cfg.budget.phase_steps.critic) == (0.0, 1, 12000)
    assert compose_config(["algorithm=sfbc", "recipe=fast", "critic.alpha=0.5"]).critic.alpha == 0.5
    assert compose_config(["algorithm=gmpo", "recipe=fast"]).budget.phase_steps.critic == 20000  # IQL's: minutes'


def test_recipe_reference_is_the_reference_protocol():
    plain = OmegaConf.to_container(compose_config(["env=hopper-medium-v2"]), resolve=True)
    reference = OmegaConf.to_container(compose_config(["env=hopper-medium-v2", "recipe=reference"]), resolve=True)
    assert plain == reference
    assert plain["sampling"] == {"steps": 31, "method": "euler", "noise_scale": 1.0, "candidates": 1,
                                 "selection": "argmax", "temperature": 1.0}  # fmt: skip
    assert plain["critic"]["polyak"] == 0.005 and plain["normalize_observations"] is False
    assert (plain["algorithm"]["beta"], plain["algorithm"]["max_weight"]) == (16, 1000)
    assert plain["algorithm"]["advantage_normalization"] == "none" and plain["algorithm"]["ema_decay"] is None


def test_bc_trains_the_critic_only_when_candidates_need_it():
    assert compose_config(["algorithm=bc"]).algorithm.train_critic is False
    assert compose_config(["algorithm=bc", "sampling.candidates=4"]).algorithm.train_critic is True


# ---------------------------------------------------------------------------------------------------------
# which per-task tuning applies under recipe=fast (issue 22: it applies, or it does not exist)

#: The keys of conf/tuning/<algorithm>_<task>.yaml that reach a recipe=fast run. The recipe replaces the rest
#: (conf/algorithm_recipe/<algorithm>_fast.yaml: the advantage unit, β, W_max, lr) or its budget makes them moot
#: (budget=minutes: fixed phase lengths, so no epochs count; batches capped at 256). So under recipe=fast GMPO's and
#: IQL's per-task tuning does not apply at all, and GMPG keeps only the task's policy-gradient step size.
TUNING_UNDER_FAST = {"gmpo": set(), "gmpg": {"algorithm.optimizer.lr"}, "iql": set()}
PHASE_OF_EPOCHS = {"critic.epochs": "critic", "algorithm.epochs": "policy", "algorithm.behaviour_epochs": "behaviour"}


def effective_values(cfg) -> dict[str, object]:
    """The flattened config as the run uses it: a phase with fixed steps has no epochs, batches are capped."""
    values, budget = {}, cfg.budget

    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                values[f"{prefix}{key}"] = value

    walk(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    for key, phase in PHASE_OF_EPOCHS.items():
        if key in values and budget.phase_steps[phase] is not None:
            del values[key]
    for key in [k for k in values if k.endswith("batch_size") and budget.max_batch_size is not None]:
        values[key] = min(values[key], budget.max_batch_size)
    return values


@pytest.mark.parametrize("tuning", sorted(p.stem for p in (CONF / "tuning").glob("*.yaml")))
def test_which_tuning_keys_apply_under_recipe_fast(tuning):
    algorithm, task = tuning.split("_", 1)
    options = [f"algorithm={algorithm}", f"env={task}", "recipe=fast", *(["path=none"] if algorithm == "iql" else [])]
    tuned, untuned = effective_values(compose_config(options)), effective_values(compose_config([*options, "~tuning"]))
    applied = {key for key in tuned.keys() | untuned.keys() if tuned.get(key) != untuned.get(key)}
    assert applied <= TUNING_UNDER_FAST[algorithm]  # nothing else of the tuning changes the run
    reference = effective_values(compose_config([*options[:2], *options[3:]]))  # recipe=reference: the task's value
    assert all(tuned[key] == reference[key] for key in TUNING_UNDER_FAST[algorithm])
