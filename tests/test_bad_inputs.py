"""Every bad input gets one clear line before any compute is spent, and no existing file is touched (issue 13).

One parametrised test over every class: config (a typo'd option, a value out of range, an unknown env id, Hydra's
own composition errors), data (npz without a path, minari without an id, tiny D4RL files), checkpoint (truncated,
empty, foreign), metrics (a damaged metrics.jsonl), agent (a wrong shape, NaN) and concurrency (a run folder in
use). Command-line cases assert exit status 2, a single ``error:`` line on stderr naming the key or file, no
traceback, and the same bytes in every watched file (checksums before and after) - ``.hydra/`` included.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import SUBPROCESS_ENV, compose_config, run_train
from genrl.config_checks import check_config, check_env_id, ranged_values
from genrl.errors import ConfigError

SMOKE = ["budget=smoke", "logger=none"]


@dataclass
class Outcome:
    """What a bad input produced: the exit status (None: raised in-process) and the message stream."""

    returncode: int | None
    stderr: str


@dataclass
class Case:
    name: str
    kind: str  # config | data | checkpoint | metrics | agent | concurrency
    expected: tuple[str, ...]  # substrings of the one error line: the key or file, the value, what is allowed
    prepare: Callable[[Path, Path], tuple[Callable[[], Outcome], list[Path]]] = field(repr=False)
    returncode: int | None = 2


# ---------------------------------------------------------------------------------------------------------
# helpers


def train(run_dir: Path, *args: str, cwd: Path | None = None) -> Outcome:
    proc = run_train([*SMOKE, f"hydra.run.dir={run_dir}", *args], cwd or run_dir.parent, check=False, timeout=120)
    return Outcome(proc.returncode, proc.stderr)


def genrl_eval(*args: str) -> Outcome:
    proc = subprocess.run(
        [sys.executable, "-m", "genrl.cli.eval", *args], env=SUBPROCESS_ENV, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return Outcome(proc.returncode, proc.stderr)


def in_process(action: Callable[[], object]) -> Outcome:
    """An API call that must raise a GenrlError: its message, as the command line would print it."""
    from genrl.errors import GenrlError

    try:
        action()
    except GenrlError as err:
        return Outcome(None, f"error: {err}")
    raise AssertionError("no GenrlError raised")


def files_under(folder: Path) -> list[Path]:
    """Every file of a run folder except the lock file (it holds the pid of its last holder)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".genrl.lock")


def checksums(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def copy_run(finished: Path, tmp: Path) -> Path:
    target = tmp / "run"
    shutil.copytree(finished, target)
    return target


def write_d4rl(path: Path, rows: int, terminal_every: int | None, next_observations: bool) -> Path:
    """A Hopper-shaped (obs 11, action 3) D4RL-layout file."""
    rng = np.random.default_rng(0)
    terminals = np.zeros(rows, dtype=bool)
    if terminal_every:
        terminals[terminal_every - 1 :: terminal_every] = True
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(rows, 11)).astype(np.float32)
        if next_observations:
            f["next_observations"] = rng.normal(size=(rows, 11)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, size=(rows, 3)).astype(np.float32)
        f["rewards"] = rng.normal(size=rows).astype(np.float32)
        f["terminals"] = terminals
        f["timeouts"] = np.zeros(rows, dtype=bool)
    return path


# ---------------------------------------------------------------------------------------------------------
# the cases


def config_case(name: str, override: str, *expected: str) -> Case:
    """``train.py <override>`` in the folder of a finished run: refused before anything is read or written."""

    def prepare(tmp: Path, finished: Path):
        return (lambda: train(finished, *override.split())), files_under(finished)

    return Case(name, "config", expected, prepare)


CONFIG_CASES = [
    config_case("typo-sampling-method", "sampling.method=eulr", "sampling.method", "eulr", "euler, midpoint"),
    config_case("typo-estimator", "algorithm=gmpg algorithm.estimator=hutch", "algorithm.estimator", "hutchinson"),
    config_case("typo-probe", "algorithm=gmpg algorithm.probe=gauss", "algorithm.probe", "rademacher"),
    config_case("typo-selection", "sampling.selection=best", "sampling.selection", "argmax, softmax"),
    config_case("typo-autocast", "fast.autocast=bf61", "fast.autocast", "bf16"),
    config_case("typo-compile-mode", "fast.compile_mode=fast", "fast.compile_mode", "reduce-overhead"),
    config_case("typo-reward-transform", "env.reward_transform=locomotoin", "env.reward_transform", "locomotion"),
    config_case("typo-wandb-mode", "logger.wandb_mode=onlin", "logger.wandb_mode", "offline"),
    config_case("typo-vectorization", "eval.vectorization=asyn", "eval.vectorization", "async"),
    config_case("typo-advantage-norm", "algorithm.advantage_normalization=sd", "algorithm.advantage_normalization"),
    config_case("typo-lr-schedule", "algorithm=iql path=none algorithm.lr_schedule=cos", "algorithm.lr_schedule"),
    config_case("range-beta", "algorithm.beta=-1", "algorithm.beta=-1", ">= 0"),
    config_case("range-expectile", "critic.expectile=1.5", "critic.expectile=1.5", "(0, 1)"),
    config_case("range-discount", "critic.discount=0", "critic.discount=0", "(0, 1]"),
    config_case("range-polyak", "critic.polyak=0", "critic.polyak=0", "(0, 1]"),
    config_case("range-batch-size", "algorithm.batch_size=0", "algorithm.batch_size=0", ">= 1"),
    config_case("range-sampling-steps", "sampling.steps=0", "sampling.steps=0", ">= 1"),
    config_case("range-candidates", "sampling.candidates=0", "sampling.candidates=0", ">= 1"),
    config_case("range-temperature", "sampling.temperature=0", "sampling.temperature=0", "> 0"),
    config_case("range-noise-scale", "sampling.noise_scale=-0.5", "sampling.noise_scale=-0.5", ">= 0"),
    config_case("range-budget-steps", "budget.steps=0", "budget.steps=0", ">= 1 or null"),
    config_case("range-episodes", "eval.episodes=0", "eval.episodes=0", ">= 1"),
    config_case("range-max-weight", "algorithm.max_weight=0", "algorithm.max_weight=0", "> 0"),
    config_case("range-ema-decay", "algorithm.ema_decay=1", "algorithm.ema_decay=1", "[0, 1) or null"),
    config_case("range-ref-scores", "env.ref_max_score=-2000", "env.ref_max_score", "env.ref_min_score"),
    config_case("unknown-env-id", "env.eval_env_id=Pendulm-v1", "env.eval_env_id=Pendulm-v1", "Pendulum-v1"),
    config_case("bad-device", "device=gpu", "device=gpu", "cpu"),
    config_case("hydra-unknown-key", "algorithm.bta=3", "algorithm.bta"),
    config_case("hydra-wrong-type", "algorithm.beta=high", "algorithm.beta", "high"),
    config_case("hydra-unknown-option", "algorithm=gmpx", "algorithm/gmpx", "gmpg, gmpo"),
    config_case("hydra-override-syntax", "algorithm.beta=[", "["),
    # data named by the config, refused before any file is read
    Case("npz-without-path", "data", ("dataset=npz", "dataset.path"),
         lambda tmp, finished: ((lambda: train(finished, "dataset=npz")), files_under(finished))),
    Case("minari-without-id", "data", ("env=minari", "dataset.dataset_id"),
         lambda tmp, finished: ((lambda: train(finished, "env=minari")), files_under(finished))),
    Case("npz-no-such-file", "data", ("missing.npz", "file not found"),
         lambda tmp, finished: ((lambda: train(finished, "dataset=npz", f"dataset.path={tmp / 'missing.npz'}")),
                                files_under(finished))),
]  # fmt: skip


def d4rl_case(name: str, rows: int, terminal_every: int | None, next_observations: bool, *expected: str) -> Case:
    """A tiny D4RL file trained as Hopper data: one line naming the file instead of a ValueError."""

    def prepare(tmp: Path, finished: Path):
        data = write_d4rl(tmp / "tiny.hdf5", rows, terminal_every, next_observations)
        return (lambda: train(tmp / "run", "env=hopper-v5-medium", f"dataset.path={data}")), [data]

    return Case(name, "data", ("tiny.hdf5", *expected), prepare)


DATA_CASES = [
    d4rl_case("d4rl-no-pseudo-episode", 40, None, True, "no complete pseudo-episode", "env.reward_transform=none"),
    d4rl_case("d4rl-no-next-obs-no-episode", 40, 20, False, "no complete pseudo-episode", "next_observations"),
    d4rl_case("d4rl-no-next-obs-nothing-left", 3, 1, False, "no transition left", "next_observations"),
]


def checkpoint_case(name: str, corrupt: Callable[[Path], None], tool: str) -> Case:
    """A run folder whose checkpoint.pt is damaged: train.py, genrl-eval and Agent say so in one line."""

    def prepare(tmp: Path, finished: Path):
        run_dir = copy_run(finished, tmp)
        corrupt(run_dir / "checkpoint.pt")
        watched = files_under(run_dir)
        if tool == "train.py":
            return (lambda: train(run_dir)), watched
        if tool == "genrl-eval":
            return (lambda: genrl_eval(str(run_dir), "--episodes", "1")), watched
        from genrl import Agent

        return (lambda: in_process(lambda: Agent.from_checkpoint(run_dir))), watched

    return Case(f"{name}-{tool}", "checkpoint", ("checkpoint.pt", "delete it"), prepare,
                returncode=None if tool == "agent" else 2)  # fmt: skip


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def foreign(path: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, path)


CHECKPOINT_CASES = [
    checkpoint_case(name, corrupt, tool)
    for name, corrupt in (("truncated", truncate), ("empty", empty), ("foreign", foreign))
    for tool in ("train.py", "genrl-eval", "agent")
    if tool == "train.py" or name == "truncated"
]


def agent_case(name: str, obs: object, *expected: str) -> Case:
    def prepare(tmp: Path, finished: Path):
        from genrl import Agent

        agent = Agent.from_checkpoint(finished)
        return (lambda: in_process(lambda: agent.act(obs))), files_under(finished)

    return Case(name, "agent", expected, prepare, returncode=None)


AGENT_CASES = [
    agent_case("agent-wrong-shape", np.zeros(4), "expected an observation of shape (3,) or (B, 3)", "got (4,)"),
    agent_case("agent-batch-wrong-shape", np.zeros((2, 2)), "(B, 3)", "got (2, 2)"),
    agent_case("agent-nan", np.array([0.0, np.nan, 0.0]), "NaN or inf"),
    agent_case("agent-inf", np.array([np.inf, 0.0, 0.0]), "NaN or inf"),
    agent_case("agent-not-numeric", "up", "numeric observation", "str"),
]


def eval_case(name: str, args: tuple[str, ...], *expected: str) -> Case:
    def prepare(tmp: Path, finished: Path):
        return (lambda: genrl_eval(str(finished), *args)), files_under(finished)

    return Case(name, "config", expected, prepare)


EVAL_CASES = [
    eval_case("eval-typo-selection", ("--selection", "best"), "sampling.selection=best", "argmax, softmax"),
    eval_case("eval-range-temperature", ("--temperature", "0"), "sampling.temperature=0", "> 0"),
]


def locked_case_prepare(tmp: Path, finished: Path):
    """A second train.py in a run folder that a live process holds: refused, nothing touched (.hydra/ too)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from genrl.training.run_lock import run_lock\n"
        f"with run_lock({str(finished)!r}):\n    print('locked', flush=True); time.sleep(120)"
    )], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"

    def action() -> Outcome:
        try:
            return train(finished)
        finally:
            holder.kill()
            holder.wait()

    return action, files_under(finished)


CONCURRENCY_CASES = [
    Case("locked-run-folder", "concurrency", ("is in use by process", "hydra.run.dir"), locked_case_prepare)
]

CASES = [*CONFIG_CASES, *EVAL_CASES, *DATA_CASES, *CHECKPOINT_CASES, *AGENT_CASES, *CONCURRENCY_CASES]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished smoke run (with its .hydra/ files): the folder every refused run must leave as it was."""
    root = tmp_path_factory.mktemp("finished")
    run_train([*SMOKE, f"hydra.run.dir={root / 'run'}"], root)
    return root / "run"


def test_the_cases_cover_every_class():
    assert {case.kind for case in CASES} == {"config", "data", "checkpoint", "agent", "concurrency"}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_bad_input_is_one_line_and_touches_nothing(case: Case, finished_run: Path, tmp_path: Path):
    assert (finished_run / ".hydra" / "config.yaml").is_file()
    action, watched = case.prepare(tmp_path, finished_run)
    before = checksums(watched)
    outcome = action()
    assert outcome.returncode == case.returncode, outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr[-2000:]
    assert lines[0].startswith("error: ")
    for text in case.expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    assert checksums(watched) == before
    assert not list(finished_run.rglob("*.tmp"))


@pytest.mark.slow
def test_a_damaged_metrics_file_is_repaired_on_rerun_not_padded(finished_run: Path, tmp_path: Path):
    """metrics: a crash mid-write leaves a partial line; rerunning the finished run keeps valid JSON lines."""
    run_dir = copy_run(finished_run, tmp_path)
    metrics = run_dir / "metrics.jsonl"
    records = metrics.read_text().splitlines()
    with metrics.open("a") as handle:
        handle.write('{"event": "train", "ph')
    proc = run_train([*SMOKE, f"hydra.run.dir={run_dir}"], tmp_path, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    text = metrics.read_bytes()
    assert b"\x00" not in text
    assert text.decode().splitlines() == records and all(json.loads(line) for line in records)


@pytest.mark.slow
def test_a_rerun_after_a_refusal_still_trains_and_writes_hydra_files(tmp_path: Path):
    """The refusal wrote nothing; the corrected command then runs and writes .hydra/ (Hydra's own three files)."""
    run_dir = tmp_path / "run"
    assert train(run_dir, "sampling.candidates=0").returncode == 2
    assert not (run_dir / ".hydra").exists() and not (run_dir / "config.yaml").exists()
    assert train(run_dir).returncode == 0
    assert sorted(p.name for p in (run_dir / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    assert "budget=smoke" in (run_dir / ".hydra" / "overrides.yaml").read_text()


def test_every_option_string_is_a_typed_choice_from_its_constructors_tuple():
    """One source of allowed values: the config's choices are the tuples the constructors check against."""
    from genrl import config
    from genrl.acting.policy import SELECTIONS
    from genrl.critics.advantage_scale import ADVANTAGE_NORMALIZATIONS
    from genrl.models.likelihood import ESTIMATORS, PROBES
    from genrl.training.acceleration import AUTOCAST_KINDS, COMPILE_MODES

    for choice, values in [
        (config.Selection, SELECTIONS), (config.AdvantageNormalization, ADVANTAGE_NORMALIZATIONS),
        (config.Estimator, ESTIMATORS), (config.Probe, PROBES), (config.Autocast, AUTOCAST_KINDS),
        (config.CompileMode, COMPILE_MODES),
    ]:  # fmt: skip
        assert tuple(m.value for m in choice) == tuple(values)
    assert config.SamplingMethod.euler == "euler" and f"{config.SamplingMethod.rk4}" == "rk4"


def test_minari_remote_storage_is_installed():
    """env=minari dataset.download=true needs the package of Minari's default remote (declared in pyproject)."""
    from minari.storage.remotes import get_cloud_storage

    assert get_cloud_storage() is not None


@pytest.mark.slow
def test_console_prints_each_evaluation_and_a_summary_with_the_results_path(finished_run: Path):
    log = (finished_run / "train.log").read_text()
    evals = [line for line in log.splitlines() if " eval phase=" in line]
    assert len(evals) == 2 and "step=6 final score=" in evals[-1] and "return=" in evals[-1]
    done = [line for line in log.splitlines() if " done score_final=" in line]
    assert len(done) == 1
    for key in ("score_best=", "dataset_score=46.0", "wall_time=", f"results={finished_run / 'results.json'}"):
        assert key in done[0]


# ---------------------------------------------------------------------------------------------------------
# the ranges, declared beside the defaults (genrl/ranges.py): every one fires on a value outside it

#: Option sets that between them have every ranged key; each key is tested under the first set that has it.
OPTION_SETS = [[], ["algorithm=gmpg"], ["algorithm=iql", "path=none"], ["path=icfm"], ["path=vpsde"]]
RANGED = {}
for _options in OPTION_SETS:
    for _key, _rule, _ in ranged_values(compose_config(_options)):
        RANGED.setdefault(_key, (_options, _rule))
#: The keys of the hand-written table these declarations replaced (issue 22): none may lose its range.
TABLE = [
    "seed", "net.hidden_sizes", "net.t_dim", "net.t_scale", "net.cond_hidden_dim", "net.t_cond_hidden_dim",
    "critic.q_net.hidden_sizes", "critic.v_net.hidden_sizes", "critic.batch_size", "critic.epochs",
    "critic.optimizer.lr", "critic.expectile", "critic.discount", "critic.polyak", "algorithm.batch_size",
    "algorithm.behaviour_batch_size", "algorithm.grad_steps", "algorithm.chunk_size",
    "algorithm.policy.hidden_sizes", "algorithm.optimizer.lr", "algorithm.behaviour_optimizer.lr",
    "algorithm.max_weight", "algorithm.epochs", "algorithm.beta", "algorithm.behaviour_epochs",
    "algorithm.target_ess", "algorithm.ema_decay", "path.sigma", "path.schedule.beta_0", "path.schedule.beta_1",
    "budget.steps", "budget.evaluations", "budget.max_batch_size", "budget.fraction",
    "budget.phase_steps.behaviour", "budget.phase_steps.critic", "budget.phase_steps.policy", "sampling.steps",
    "sampling.candidates", "sampling.temperature", "sampling.noise_scale", "eval.episodes", "eval.final_episodes",
    "eval.num_envs", "eval.seed_offset", "env.max_episode_steps", "env.ref_min_score", "env.ref_max_score",
    "logger.every_steps", "checkpoint.every_minutes",
]  # fmt: skip


def test_every_key_of_the_old_range_table_has_a_declared_range():
    assert sorted(RANGED) == sorted(TABLE)


@pytest.mark.parametrize("key", sorted(RANGED))
def test_every_declared_range_fires_in_one_line_naming_the_key_and_the_range(key):
    options, rule = RANGED[key]
    cfg = compose_config(options)
    check_config(cfg)  # the composed default is valid
    bad = [0] if rule.each else next(v for v in [-1, 0, 0.5, 1, 1.5, 2**32, float("inf")] if not rule.allows(v))
    OmegaConf.update(cfg, key, bad)
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    message = str(err.value)
    assert message.startswith(f"{key}=") and message.endswith(f": expected {rule}") and "\n" not in message


def test_a_range_annotated_on_a_constructor_parameter_is_checked_at_start():
    """The IQL critic's ``discount: Rate = 0.99`` is all it takes: (0, 1] is refused outside, by key."""
    cfg = compose_config(["critic.discount=1.5"])
    with pytest.raises(ConfigError, match=r"^critic\.discount=1\.5: expected in \(0, 1\]$"):
        check_config(cfg)
    with pytest.raises(ConfigError, match=r"^algorithm\.policy\.hidden_sizes=\[256, 0\]: expected every entry >= 1$"):
        check_config(compose_config(["algorithm=iql", "path=none", "algorithm.policy.hidden_sizes=[256,0]"]))
    with pytest.raises(ConfigError, match=r"^algorithm\.ema_decay=1\.0: expected in \[0, 1\) or null$"):
        check_config(compose_config(["algorithm=idql", "+algorithm.ema_decay=1.0"]))  # a plug-in without a schema


def test_an_evaluation_env_named_by_a_dataset_is_checked_too():
    with pytest.raises(ConfigError, match=r"^minari:x/y-v0: its evaluation env Pendulm-v1 \(set env.eval_env_id"):
        check_env_id("Pendulm-v1", source="minari:x/y-v0")
    check_env_id("Pendulum-v1")
