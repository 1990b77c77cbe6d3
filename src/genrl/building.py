"""Building a run from its config: the only place that instantiates ``_target_`` nodes, and the data it trains on."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from genrl.algorithms import Algorithm
from genrl.config_checks import check_env_id
from genrl.data import Transitions, check_against_env, transform_rewards
from genrl.data.normalization import ObservationNormalizer
from genrl.data.validate import check_size
from genrl.errors import ConfigError, GenrlError
from genrl.evaluation import Task, make_env
from genrl.run_folder import NO_PATH

log = logging.getLogger(__name__)

#: Keys of instantiated nodes that label the option and are not constructor arguments.
LABEL_KEYS = ("name",)


def build(node: DictConfig, *, omit: tuple[str, ...] = (), **runtime: Any) -> Any:
    """Instantiate a ``_target_`` node; runtime-only values (dims, built objects) come as keyword arguments.

    ``omit`` names keys of the node that are built elsewhere (an algorithm's own ``policy``, a critic's networks).
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


def build_network(node: DictConfig, **dims: Any) -> nn.Module:
    """A network node with those of ``dims`` (obs_dim, action_dim, …) that its constructor takes."""
    accepted = inspect.signature(get_object(node._target_)).parameters
    return build(node, **{name: value for name, value in dims.items() if name in accepted})


def algorithm_class(cfg: DictConfig) -> type[Algorithm]:
    """The class ``algorithm=`` names: its declarations (policy, critics, sampler) say what to build."""
    return get_object(cfg.algorithm._target_)


def has_critic(cfg: DictConfig) -> bool:
    """Whether ``critic=`` names one (``critic=none`` has no ``_target_``)."""
    return OmegaConf.select(cfg, "critic._target_") is not None


def unused_config(cfg: DictConfig) -> list[str]:
    """Config keys that do not affect this run (the generative model's, for an algorithm with its own policy; the
    critic's, with none or with a critic that has no use for some, e.g. the TD critic's ``v_net``)."""
    if not has_critic(cfg):
        return [*algorithm_class(cfg).unused_keys(), "critic"]
    critic_unused = getattr(get_object(cfg.critic._target_), "unused_keys", ())
    return [*algorithm_class(cfg).unused_keys(), *(f"critic.{key}" for key in critic_unused)]


def build_policy_model(
    cfg: DictConfig, obs_dim: int, action_dim: int, action_box: tuple[list[float], list[float]] | None = None
) -> nn.Module:
    """A fresh policy, as the algorithm declares it: its own (``algorithm.<policy_key>``, bounded by
    ``action_box``, and given the generative model as ``behaviour`` when its constructor takes one: QGPO's guided
    policy) or the generative model (network + path + parameterisation)."""
    cls = algorithm_class(cfg)
    if cls.policy_key is not None:
        low, high = action_box if action_box is not None else (None, None)
        node = cfg.algorithm[cls.policy_key]
        wraps = "behaviour" in inspect.signature(get_object(node._target_)).parameters
        behaviour = {"behaviour": build_generative_model(cfg, obs_dim, action_dim)} if wraps else {}
        return build(node, obs_dim=obs_dim, action_dim=action_dim, action_low=low, action_high=high, **behaviour)
    return build_generative_model(cfg, obs_dim, action_dim)


def build_generative_model(cfg: DictConfig, obs_dim: int, action_dim: int) -> nn.Module:
    """The generative model of ``net``, ``model`` and ``path`` (a policy, or an algorithm's behaviour model)."""
    if cfg.path.name == NO_PATH:
        raise ConfigError(
            f"path={NO_PATH}: algorithm={cfg.algorithm.name} samples a generative policy and needs a probability "
            "path (path=vpsde, gvp or icfm)"
        )
    net = build(cfg.net, x_dim=action_dim, cond_dim=obs_dim)
    return build(cfg.model, net=net, path=build(cfg.path))


def build_critic(cfg: DictConfig, obs_dim: int, action_dim: int, device: torch.device) -> Any | None:
    """The ``critic=`` option's critic with its networks (those its class declares) on ``device``; None for none."""
    if not has_critic(cfg):
        return None
    node = cfg.critic
    cls = get_object(node._target_)
    built = {key: build_network(node[key], obs_dim=obs_dim, action_dim=action_dim).to(device) for key in cls.networks}
    return build(node, omit=(*cls.networks, *getattr(cls, "unused_keys", ())), **built)


def build_algorithm(
    cfg: DictConfig,
    obs_dim: int,
    action_dim: int,
    device: torch.device,
    action_box: tuple[list[float], list[float]] | None = None,
) -> Algorithm:
    """The algorithm of ``cfg``, from what its class declares: its critic, then a factory of its policy models."""
    cls = algorithm_class(cfg)
    critic = build_critic(cfg, obs_dim, action_dim, device)

    def make_model() -> nn.Module:
        return build_policy_model(cfg, obs_dim, action_dim, action_box).to(device)

    def make_behaviour() -> nn.Module:
        return build_generative_model(cfg, obs_dim, action_dim).to(device)

    omit = () if cls.policy_key is None else (cls.policy_key,)
    behaviour = {"make_behaviour": make_behaviour} if cls.behaviour_model else {}
    return build(cfg.algorithm, omit=omit, make_model=make_model, critic=critic, **behaviour)


def env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """``env.kwargs`` as a plain dict: the keyword arguments of ``gym.make`` for evaluation."""
    node = OmegaConf.select(cfg, "env.kwargs")
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def make_task(cfg: DictConfig, data: Transitions) -> Task:
    env = cfg.env
    ref_min = env.ref_min_score if env.ref_min_score is not None else data.metadata.get("ref_min_score")
    ref_max = env.ref_max_score if env.ref_max_score is not None else data.metadata.get("ref_max_score")
    if (ref_min is None) != (ref_max is None):
        given, missing = ("env.ref_min_score", "env.ref_max_score")[:: 1 if ref_min is not None else -1]
        raise ConfigError(f"{given} without {missing}: give both reference returns, or neither (raw returns)")
    eval_env_id = env.eval_env_id or data.metadata.get("eval_env_id")
    if eval_env_id is None:
        raise ConfigError(f"env={env.name}: no evaluation environment; set env.eval_env_id=<Gymnasium id>")
    if not env.eval_env_id:  # named by the dataset (Minari metadata): checked here, once it is known
        check_env_id(eval_env_id, "env.eval_env_id", source=data.source, kwargs=env_kwargs(cfg))
    try:
        refs = (None, None) if ref_min is None else (float(ref_min), float(ref_max))
        return Task(env.name, eval_env_id, *refs, env.max_episode_steps, env_kwargs(cfg))
    except ValueError as err:  # reference returns from the dataset's metadata that cannot normalise scores
        raise ConfigError(f"{err}; set env.ref_min_score and env.ref_max_score") from None


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
    check_size(data.source, len(data))  # any loader (check_dataset reads the sizes of files from their headers)
    task = make_task(cfg, data)
    probe_env = make_env(task.eval_env_id, kwargs=task.kwargs)
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
