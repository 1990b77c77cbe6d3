"""The composition root: the only place that reads the Hydra config and instantiates objects from it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import Tensor, nn

import genrl
from genrl.acting import ActingPolicy
from genrl.config_checks import check_config, check_env_id, check_ranges, resolved
from genrl.data import Transitions, check_against_env, transform_rewards
from genrl.data.normalization import ObservationNormalizer
from genrl.errors import ConfigError, GenrlError
from genrl.evaluation import SCORE_SCALE, Evaluator, Task, make_env
from genrl.io import write_json, write_text
from genrl.models import GenerativeModel
from genrl.seeding import seed_everything
from genrl.training.acceleration import autocast, compile_modules, configure_matmul, make_policy_sampler
from genrl.training.budget import Budget
from genrl.training.checkpoint import load_checkpoint
from genrl.training.logger import RunLogger
from genrl.training.run_lock import run_lock
from genrl.training.trainer import Trainer, TrainingOutcome

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
RESULTS_FILE = "results.json"
#: Config keys that may change between a run and its resumption (they do not change the result).
RESUMABLE_KEYS = ("logger", "checkpoint", "device", "eval.vectorization", "eval.num_envs")
#: Keys of instantiated nodes that label the option and are not constructor arguments.
LABEL_KEYS = ("name",)
#: ``path=none``, and the ``path`` recorded by algorithms whose policy is not generative.
NO_PATH = "none"
#: What only a generative policy uses: ignored by an algorithm with its own policy (``algorithm.policy``).
GENERATIVE_KEYS = ("path", "net", "model", "sampling.steps", "sampling.method")


def build(node: DictConfig, *, omit: tuple[str, ...] = (), **runtime: Any) -> Any:
    """Instantiate a ``_target_`` node; runtime-only values (dims, built objects) come as keyword arguments.

    ``omit`` names keys of the node that are built elsewhere (an algorithm's own ``policy``).
    """
    spec = OmegaConf.to_container(node, resolve=True, enum_to_str=True)  # choices as plain strings
    for key in (*LABEL_KEYS, *omit):
        spec.pop(key, None)
    try:
        obj = instantiate(spec, **runtime)
    except InstantiationException as err:  # surface mistakes in user input as one line, not a traceback
        cause = err.__cause__
        if isinstance(cause, GenrlError):
            raise cause from None
        if isinstance(cause, ValueError):
            raise ConfigError(f"{spec['_target_']}: {cause}") from None
        raise
    log.info("built %s", spec["_target_"])
    return obj


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but no CUDA device is available; use device=auto or device=cpu")
    return device


def own_policy(cfg: DictConfig) -> DictConfig | None:
    """The node of an algorithm's own, non-generative policy (``algorithm.policy``: IQL's Gaussian), else None."""
    return OmegaConf.select(cfg, "algorithm.policy")


def unused_config(cfg: DictConfig) -> list[str]:
    """Config keys that do not affect this run: the generative model's, for an algorithm with its own policy."""
    return list(GENERATIVE_KEYS) if own_policy(cfg) is not None else []


def build_policy_model(
    cfg: DictConfig, obs_dim: int, action_dim: int, action_box: tuple[list[float], list[float]] | None = None
) -> nn.Module:
    """A fresh policy: the algorithm's own (``algorithm.policy``, bounded by ``action_box``) or the generative
    model (network + path + parameterisation)."""
    node = own_policy(cfg)
    if node is not None:
        low, high = action_box if action_box is not None else (None, None)
        return build(node, obs_dim=obs_dim, action_dim=action_dim, action_low=low, action_high=high)
    if cfg.path.name == NO_PATH:
        raise ConfigError(
            f"path={NO_PATH}: algorithm={cfg.algorithm.name} samples a generative policy and needs a probability "
            "path (path=vpsde, gvp or icfm)"
        )
    net = build(cfg.net, x_dim=action_dim, cond_dim=obs_dim)
    return build(cfg.model, net=net, path=build(cfg.path))


def build_algorithm(
    cfg: DictConfig,
    obs_dim: int,
    action_dim: int,
    device: torch.device,
    action_box: tuple[list[float], list[float]] | None = None,
):
    q_net = build(cfg.critic.q_net, obs_dim=obs_dim, action_dim=action_dim).to(device)
    v_net = build(cfg.critic.v_net, obs_dim=obs_dim).to(device)
    critic = build(cfg.critic, q_net=q_net, v_net=v_net)

    def make_model() -> nn.Module:
        return build_policy_model(cfg, obs_dim, action_dim, action_box).to(device)

    return build(cfg.algorithm, omit=("policy",), make_model=make_model, critic=critic)


def make_sampler(cfg: DictConfig, policy: nn.Module, compile_mode: str | None = None) -> Callable[[Tensor], Tensor]:
    """obs → action of the acting weights: the ODE sampler of a generative policy, or the policy's own sampler."""
    sampling = cfg.sampling
    if isinstance(policy, GenerativeModel):
        return make_policy_sampler(
            policy, sampling.steps, sampling.method, cfg.fast.fused_sampler, compile_mode, sampling.noise_scale
        )
    return policy.sampler(sampling.noise_scale)


def acting_weights(weights: dict[str, Any]) -> dict[str, Tensor]:
    """The state dict of the weights that act: the EMA copy when the run kept one, else the policy."""
    if "policy_ema" in weights:  # torch's AveragedModel: the averaged module under "module."
        return {k.removeprefix("module."): v for k, v in weights["policy_ema"].items() if k != "n_averaged"}
    return weights["policy"]


def load_acting_policy(
    state: dict[str, Any], device: str | torch.device = "cpu", **sampling: object
) -> tuple[nn.Module, ActingPolicy]:
    """The acting weights and the :class:`ActingPolicy` of a checkpoint (any algorithm), as its evaluation acted.

    ``sampling`` overrides the run's ``sampling.*`` settings (e.g. ``candidates=1``); a value that is not allowed
    is one :class:`ConfigError` naming the key.
    """
    from genrl.config import Config, plain, without_retired_keys

    device = torch.device(device)
    meta, weights = state["metadata"], state["algorithm"]
    cfg = OmegaConf.merge(OmegaConf.structured(Config), without_retired_keys(meta["config"]))  # keys added since
    for key, value in sampling.items():
        try:
            OmegaConf.update(cfg, f"sampling.{key}", value)
        except OmegaConfBaseException as err:
            raise ConfigError(f"sampling.{key}={value}: {str(err).splitlines()[0]}") from None
    check_ranges(resolved(cfg), prefix="sampling.")
    cfg = plain(cfg)
    obs_dim, action_dim = meta["obs_dim"], meta["action_dim"]
    policy = build_policy_model(cfg, obs_dim, action_dim, meta.get("action_box"))
    policy.load_state_dict(acting_weights(weights))
    policy.to(device).eval()
    critic_q, scale = None, 1.0
    if cfg.sampling.candidates > 1:
        critic_q = build(cfg.critic.q_net, obs_dim=obs_dim, action_dim=action_dim)
        critic_q.load_state_dict(weights["critic"]["q"])
        critic_q.to(device).eval()
        scale = float(weights["critic"].get("advantage_scale", 1.0))
    normalizer = meta.get("obs_normalizer")
    normalizer = ObservationNormalizer.from_dict(normalizer) if normalizer else None
    acting = build_acting_policy(
        cfg, make_sampler(cfg, policy), critic_q, scale, normalizer, meta.get("action_box"), device
    )
    return policy, acting


def make_task(cfg: DictConfig, data: Transitions) -> Task:
    env = cfg.env
    ref_min = env.ref_min_score if env.ref_min_score is not None else data.metadata.get("ref_min_score")
    ref_max = env.ref_max_score if env.ref_max_score is not None else data.metadata.get("ref_max_score")
    if ref_min is None or ref_max is None:
        raise ConfigError(
            f"env={env.name}: no reference returns to normalise scores; set env.ref_min_score and env.ref_max_score"
        )
    eval_env_id = env.eval_env_id or data.metadata.get("eval_env_id")
    if eval_env_id is None:
        raise ConfigError(f"env={env.name}: no evaluation environment; set env.eval_env_id=<Gymnasium id>")
    if not env.eval_env_id:  # named by the dataset (Minari metadata): checked here, once it is known
        check_env_id(eval_env_id, "env.eval_env_id", source=data.source)
    try:
        return Task(env.name, eval_env_id, float(ref_min), float(ref_max), env.max_episode_steps)
    except ValueError as err:  # reference returns from the dataset's metadata that cannot normalise scores
        raise ConfigError(f"{err}; set env.ref_min_score and env.ref_max_score") from None


def check_resumable(checkpoint_path: Path, config: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint that was written by a different configuration."""
    from genrl.config import without_retired_keys

    state = load_checkpoint(checkpoint_path)
    if state is None:
        return
    stored = without_retired_keys(state["metadata"].get("config", {}))
    differing = sorted(k for k in _flatten(config).keys() | _flatten(stored).keys()
                       if _flatten(config).get(k) != _flatten(stored).get(k) and not k.startswith(RESUMABLE_KEYS))
    if differing:
        raise ConfigError(
            f"{checkpoint_path.parent} holds a checkpoint of a different configuration (differs at: "
            f"{', '.join(differing[:5])}); choose another folder with hydra.run.dir=... or delete it"
        )


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def wandb_settings(cfg: DictConfig, config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Group = the configuration without its seed; name = group + seed; id = the run folder (stable on resume)."""
    without_seed = {k: v for k, v in config.items() if k not in ("seed", "logger", "checkpoint", "device")}
    digest = hashlib.sha1(json.dumps(without_seed, sort_keys=True, default=str).encode()).hexdigest()[:8]
    group = f"{cfg.algorithm.name}-{cfg.path.name}-{cfg.env.name}-{digest}"
    return {
        "mode": cfg.logger.wandb_mode,
        "project": cfg.logger.project,
        "entity": cfg.logger.entity,
        "group": group,
        "name": f"{group}-seed{cfg.seed}",
        "id": hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16],
        "config": config,
    }


@dataclass(frozen=True)
class PreparedData:
    """The training transitions (reward-transformed, observations normalised if asked) and what acting needs."""

    data: Transitions
    task: Task
    dataset_score: float | None
    normalizer: ObservationNormalizer | None
    action_box: tuple[list[float], list[float]]  # the evaluation env's action space (low, high)


def prepare_data(cfg: DictConfig, device: torch.device) -> PreparedData:
    """Load and validate the dataset, build its task, and move the transformed data to ``device``."""
    data: Transitions = build(cfg.dataset)  # the dataset node's _target_ is the loader (its keys: check_dataset)
    task = make_task(cfg, data)
    probe_env = make_env(task.eval_env_id)
    check_against_env(data, probe_env.observation_space, probe_env.action_space, task.eval_env_id)
    space = probe_env.action_space
    action_box = (np.asarray(space.low, dtype=float).tolist(), np.asarray(space.high, dtype=float).tolist())
    probe_env.close()
    returns = data.episode_returns
    dataset_score = float(task.normalized_score(np.mean(returns))) if len(returns) else None
    data = transform_rewards(data, cfg.env.reward_transform)
    normalizer = ObservationNormalizer.from_data(data) if cfg.normalize_observations else None
    if normalizer is not None:
        data = normalizer.transitions(data)
    return PreparedData(data.to(device), task, dataset_score, normalizer, action_box)


def build_acting_policy(
    cfg: DictConfig,
    sample: Callable[[Tensor], Tensor],
    critic_q: nn.Module | None,
    advantage_scale: float,
    normalizer: ObservationNormalizer | None,
    action_box: tuple[list[float], list[float]] | None,
    device: torch.device,
) -> ActingPolicy:
    """What acts in evaluation and deployment: normalisation, then ``sampling.candidates`` scored by min(Q1, Q2)."""
    sampling = cfg.sampling
    low, high = (None, None) if action_box is None else (torch.tensor(b, device=device) for b in action_box)
    return ActingPolicy(
        sample, normalizer, sampling.candidates, critic_q.min_q if critic_q is not None else None,
        sampling.selection, sampling.temperature, advantage_scale, low, high,
    )  # fmt: skip


def accelerate(cfg: DictConfig, algorithm, device: torch.device):
    """Apply ``cfg.fast``; return the precision context factory and the acting policy's sampler."""
    configure_matmul(cfg.fast.tf32)
    compile_mode = cfg.fast.compile_mode if cfg.fast.compile else None
    if compile_mode:
        compile_modules(algorithm.compilable_modules(), compile_mode)
    return autocast(cfg.fast.autocast, device), make_sampler(cfg, algorithm.acting_policy, compile_mode)


def run(
    cfg: DictConfig, run_dir: Path, overrides: Sequence[str] = (), on_accept: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Train one configuration in ``run_dir`` (resuming its checkpoint if any) and write results.json.

    Nothing is read or written before the run is accepted: the whole config is checked first
    (:func:`genrl.config_checks.check_config`; ``overrides`` are the command line's), then the run folder is
    locked and its checkpoint, if any, must be readable and of this configuration. ``on_accept`` runs then, before
    the first file is written (``train.py`` writes Hydra's ``.hydra/`` files there). A refusal is a
    :class:`GenrlError`.
    """
    from genrl.config import plain

    run_dir = Path(run_dir)
    check_config(cfg, overrides)
    cfg = plain(cfg)  # resolved, choices as plain strings
    with run_lock(run_dir):  # one process per run folder
        return _run(cfg, run_dir, on_accept)


def _run(cfg: DictConfig, run_dir: Path, on_accept: Callable[[], None] | None) -> dict[str, Any]:
    config = OmegaConf.to_container(cfg, resolve=True)
    check_resumable(run_dir / CHECKPOINT_FILE, config)  # before writing anything into an existing run
    if on_accept is not None:
        on_accept()
    write_text(OmegaConf.to_yaml(config), run_dir / "config.yaml")

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    prepared = prepare_data(cfg, device)
    data, task = prepared.data, prepared.task
    note_unused_config(cfg)
    algorithm = build_algorithm(cfg, data.obs_dim, data.action_dim, device, prepared.action_box)
    budget = Budget(**_budget(cfg))
    set_phase_steps = getattr(algorithm, "set_phase_steps", None)  # optional: schedules over a phase's length
    if set_phase_steps is not None:
        set_phase_steps({phase.name: budget.steps_of(phase, len(data)) for phase in algorithm.phases()})
    precision, sample = accelerate(cfg, algorithm, device)
    ev = cfg.eval
    evaluator = Evaluator(task, ev.episodes, ev.num_envs, cfg.seed + ev.seed_offset, ev.vectorization, ev.clip_actions)

    def evaluate(final: bool) -> dict[str, float]:
        critic = algorithm.critic  # frozen by the time the policy is evaluated; σ_A measured at its start
        act = build_acting_policy(cfg, sample, critic.q, critic.advantage_scale, prepared.normalizer,
                                  prepared.action_box, device)  # fmt: skip
        with precision():
            return evaluator.evaluate(act, device, ev.final_episodes if final else ev.episodes).summary()

    logger = ConsoleRunLogger(run_dir, wandb_settings(cfg, config, run_dir), progress=cfg.logger.progress)
    metadata = {
        "config": config, "obs_dim": data.obs_dim, "action_dim": data.action_dim, "version": genrl.__version__,
        "obs_normalizer": prepared.normalizer.to_dict() if prepared.normalizer is not None else None,
        "action_box": prepared.action_box, "task": dataclasses.asdict(task),  # what genrl-eval evaluates on
    }  # fmt: skip
    trainer = Trainer(
        algorithm, data, budget, logger, run_dir / CHECKPOINT_FILE, seed=cfg.seed,
        evaluate=evaluate, checkpoint_every_s=cfg.checkpoint.every_minutes * 60, log_every=cfg.logger.every_steps,
        metadata=metadata, precision=precision, keep_phase_ends=cfg.checkpoint.keep_phase_ends,
    )  # fmt: skip
    try:
        outcome = trainer.fit()
    finally:
        evaluator.close()
    results = summarize(cfg, task, data, prepared.dataset_score, outcome, device)
    write_json(results, run_dir / RESULTS_FILE)
    logger.summary({k: v for k, v in results.items() if isinstance(v, int | float)})
    logger.close()
    log.info(summary_line(results, run_dir / RESULTS_FILE))
    return results


class ConsoleRunLogger(RunLogger):
    """:class:`RunLogger` that also logs one console line per evaluation (:func:`evaluation_line`)."""

    def log(self, record: dict[str, Any]) -> None:
        super().log(record)
        if record.get("event") == "eval":
            log.info(evaluation_line(record))


def evaluation_line(record: dict[str, Any]) -> str:
    """``eval phase=policy step=500 score=61.2±5.1 return=1913.4±160.2`` (``final`` marks the last one)."""
    final = " final" if record.get("final") else ""
    return (
        f"eval phase={record['phase']} step={record['step']}{final} "
        f"score={_number(record.get('score'))}±{_number(record.get('score_std'))} "
        f"return={_number(record.get('return_mean'))}±{_number(record.get('return_std'))}"
    )


def summary_line(results: dict[str, Any], path: Path) -> str:
    """The run's last console line: final, best and dataset score, wall time, where results.json is."""
    return (
        f"done score_final={_number(results.get('score_final'))} score_best={_number(results.get('score_best'))} "
        f"dataset_score={_number(results.get('dataset_score'))} wall_time={_number(results.get('wall_time_s'))}s "
        f"results={Path(path).resolve()}"
    )


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def note_unused_config(cfg: DictConfig) -> None:
    """One log line where part of the config does not apply (``path`` for an algorithm with its own policy)."""
    node = own_policy(cfg)
    if node is None:
        return
    kind = node._target_.rsplit(".", 1)[-1]
    path = "" if cfg.path.name == NO_PATH else f"path={cfg.path.name} is ignored: "
    log.info(
        "%salgorithm=%s trains its own %s, not a generative model (%s do not apply)",
        path, cfg.algorithm.name, kind, ", ".join(GENERATIVE_KEYS),
    )  # fmt: skip
    if cfg.sampling.candidates > 1 and OmegaConf.select(node, "deterministic"):
        log.info(
            "sampling.candidates=%d: the deterministic policy proposes its mean action each time "
            "(algorithm.policy.deterministic=false draws the candidates from the Gaussian)",
            cfg.sampling.candidates,
        )


def _budget(cfg: DictConfig) -> dict[str, Any]:
    budget = OmegaConf.to_container(cfg.budget, resolve=True)
    budget.pop("name")
    return budget


def summarize(cfg, task: Task, data: Transitions, dataset_score, outcome: TrainingOutcome, device) -> dict[str, Any]:
    evals = [e for e in outcome.evaluations if "score" in e]
    final = evals[-1] if evals else {}
    return {
        "algorithm": cfg.algorithm.name,
        "path": cfg.path.name if own_policy(cfg) is None else NO_PATH,
        "unused_config": unused_config(cfg),  # keys that did not affect this run (genrl-report ignores them)
        "env": cfg.env.name,
        "eval_env": task.eval_env_id,
        "seed": cfg.seed,
        "budget": cfg.budget.name,
        "recipe": cfg.recipe_name,
        "score_final": final.get("score"),
        "score_final_std": final.get("score_std"),
        "score_best": max((e["score"] for e in evals), default=None),
        "return_mean": final.get("return_mean"),
        "return_std": final.get("return_std"),
        "sampling": OmegaConf.to_container(cfg.sampling, resolve=True),
        "normalize_observations": cfg.normalize_observations,
        "ema_decay": OmegaConf.select(cfg, "algorithm.ema_decay"),
        "eval_episodes": cfg.eval.episodes,
        "final_episodes": cfg.eval.final_episodes,
        "dataset_score": dataset_score,
        "dataset_transitions": len(data),
        "dataset_episodes": len(data.episode_returns),
        "steps": sum(outcome.phase_steps.values()),
        "phase_steps": outcome.phase_steps,
        "wall_time_s": round(outcome.wall_time_s, 2),
        "sessions": outcome.sessions,
        "resumed_at": outcome.resumed_at,
        "device": _device_name(device),
        "curve": {"step": [e["step"] for e in evals], "score": [e["score"] for e in evals]},
        "score_scale": SCORE_SCALE,
        "genrl_version": genrl.__version__,
        "torch_version": torch.__version__,
        "host": platform.node(),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"
