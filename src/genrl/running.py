"""Running one configuration in its run folder: check, lock, build, train, evaluate, write results.json."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

import genrl
from genrl.acting.cost import measure_act_cost, networks_of
from genrl.acting.loading import build_acting_policy, make_sampler
from genrl.building import algorithm_class, build_algorithm, prepare_data, unused_config
from genrl.config import plain, upgraded_config
from genrl.config_checks import check_config, resolve_device
from genrl.data import Transitions
from genrl.data.fingerprint import dataset_fingerprint
from genrl.evaluation import Evaluator, Task, comparability
from genrl.io import write_json, write_text
from genrl.run_folder import CHECKPOINT_FILE, CONFIG_FILE, NO_PATH, RESULTS_FILE, check_resumable
from genrl.seeding import seed_everything
from genrl.training.acceleration import autocast, compile_modules, configure_matmul
from genrl.training.budget import Budget
from genrl.training.checkpoint import load_checkpoint
from genrl.training.logger import RunLogger
from genrl.training.run_lock import run_lock
from genrl.training.trainer import Trainer, TrainingOutcome

log = logging.getLogger(__name__)


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
    run_dir = Path(run_dir)
    check_config(cfg, overrides)
    cfg = plain(cfg)  # resolved, choices as plain strings
    with run_lock(run_dir):  # one process per run folder
        return _run(cfg, run_dir, on_accept)


def _run(cfg: DictConfig, run_dir: Path, on_accept: Callable[[], None] | None) -> dict[str, Any]:
    config = OmegaConf.to_container(cfg, resolve=True)
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)  # before writing anything into an existing run
    stored = None if state is None else upgraded_config(state["metadata"].get("config", {}))
    fingerprint = dataset_fingerprint(config)  # the data itself: a replaced file never resumes the old run
    check_resumable(run_dir, config, stored, fingerprint, None if state is None else state["metadata"].get("dataset"))
    if on_accept is not None:
        on_accept()
    write_text(OmegaConf.to_yaml(config), run_dir / CONFIG_FILE)

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    prepared = prepare_data(cfg, device)
    data, task = prepared.data, prepared.task
    note_unused_config(cfg)
    algorithm = build_algorithm(cfg, data.obs_dim, data.action_dim, device, prepared.action_box)
    budget = Budget(**_budget(cfg))
    algorithm.set_phase_steps({phase.name: budget.steps_of(phase, len(data)) for phase in algorithm.phases()})
    precision, sample = accelerate(cfg, algorithm, device)
    ev = cfg.eval
    evaluator = Evaluator(task, ev.episodes, ev.num_envs, cfg.seed + ev.seed_offset, ev.vectorization, ev.clip_actions)

    def evaluate(final: bool) -> dict[str, float]:
        # the critic is frozen by the time the policy is evaluated; σ_A measured at its start
        act = build_acting_policy(cfg, sample, algorithm.critic, prepared.normalizer, prepared.action_box, device)
        with precision():
            return evaluator.evaluate(act, device, ev.final_episodes if final else ev.episodes).summary()

    logger = ConsoleRunLogger(run_dir, wandb_settings(cfg, config, run_dir), progress=cfg.logger.progress)
    metadata = {
        "config": config, "obs_dim": data.obs_dim, "action_dim": data.action_dim, "version": genrl.__version__,
        "obs_normalizer": prepared.normalizer.to_dict() if prepared.normalizer is not None else None,
        "action_box": prepared.action_box, "task": dataclasses.asdict(task),  # what genrl-eval evaluates on
        "dataset": fingerprint,  # what the run read (check_resumable)
    }  # fmt: skip
    trainer = Trainer(
        algorithm, data, budget, logger, run_dir / CHECKPOINT_FILE, seed=cfg.seed,
        evaluate=evaluate, checkpoint_every_s=cfg.checkpoint.every_minutes * 60, log_every=cfg.logger.every_steps,
        metadata=metadata, precision=precision, keep_phase_ends=cfg.checkpoint.keep_phase_ends,
        keep_evaluations=cfg.checkpoint.keep_evaluations,
    )  # fmt: skip
    try:
        outcome = trainer.fit()
    finally:
        evaluator.close()
    act = build_acting_policy(cfg, sample, algorithm.critic, prepared.normalizer, prepared.action_box, device)
    candidates_critic = algorithm.critic if cfg.sampling.candidates > 1 else None
    with precision():
        cost = measure_act_cost(act, data.obs_dim, device, networks_of(algorithm.acting_policy, candidates_critic))
    results = {**summarize(cfg, task, data, prepared.dataset_score, outcome, device), **cost}
    results["dataset_fingerprint"] = fingerprint  # genrl-report keeps two datasets under one task name apart
    write_json(results, run_dir / RESULTS_FILE)
    logger.summary({k: v for k, v in results.items() if isinstance(v, int | float)})
    logger.close()
    if results["score_note"]:
        log.warning("scores %s", results["score_note"])
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
    cls = algorithm_class(cfg)
    if "path" not in cls.unused_keys():
        return
    node = cfg.algorithm[cls.policy_key]
    kind = node._target_.rsplit(".", 1)[-1]
    path = "" if cfg.path.name == NO_PATH else f"path={cfg.path.name} is ignored: "
    log.info(
        "%salgorithm=%s trains its own %s, not a generative model (%s do not apply)",
        path, cfg.algorithm.name, kind, ", ".join(cls.unused_keys()),
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
        "path": NO_PATH if "path" in algorithm_class(cfg).unused_keys() else cfg.path.name,
        "critic": cfg.critic.name,
        "unused_config": unused_config(cfg),  # keys that did not affect this run (genrl-report ignores them)
        "env": cfg.env.name,
        "eval_env": task.eval_env_id,
        "eval_env_kwargs": task.kwargs,  # what gym.make got besides the id (env.kwargs)
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
        # score_comparable: false when evaluation episodes were capped (budget=smoke) or scores are unnormalised
        # (no reference returns: score_normalized false, score_scale says raw return)
        **comparability(task),
        "genrl_version": genrl.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),  # CPU float reductions, so the last digits, depend on it
        "host": platform.node(),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"
