"""What acts, built from a run's config: evaluation's policy during training, and a checkpoint's for deployment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import Tensor, nn

from genrl.acting.policy import ActingPolicy
from genrl.building import algorithm_class, build_critic, build_policy_model
from genrl.config import Config, plain, upgraded_config
from genrl.config_checks import check_ranges
from genrl.data.normalization import ObservationNormalizer
from genrl.errors import ConfigError, GenrlError
from genrl.training.checkpoint import unfinished_reason

log = logging.getLogger(__name__)


def make_sampler(cfg: DictConfig, policy: nn.Module, compile_mode: str | None = None) -> Callable[[Tensor], Tensor]:
    """obs → action of the acting weights, drawn as the algorithm declares (:meth:`Algorithm.make_sampler`)."""
    return algorithm_class(cfg).make_sampler(policy, cfg.sampling, cfg.fast.fused_sampler, compile_mode)


def acting_weights(weights: dict[str, Any]) -> dict[str, Tensor]:
    """The state dict of the weights that act: the EMA copy when the run kept one, else the policy."""
    if "policy_ema" in weights:  # torch's AveragedModel: the averaged module under "module."
        return {k.removeprefix("module."): v for k, v in weights["policy_ema"].items() if k != "n_averaged"}
    return weights["policy"]


def checkpoint_config(state: dict[str, Any], **sampling: object) -> DictConfig:
    """A checkpoint's run config (keys added since filled in), ``sampling`` overriding its ``sampling.*``; a value
    that is not allowed is one :class:`ConfigError` naming the key."""
    cfg = OmegaConf.merge(OmegaConf.structured(Config), upgraded_config(state["metadata"]["config"]))
    for key, value in sampling.items():
        try:
            OmegaConf.update(cfg, f"sampling.{key}", value)
        except OmegaConfBaseException as err:
            raise ConfigError(f"sampling.{key}={value}: {str(err).splitlines()[0]}") from None
    check_ranges(cfg, "sampling")
    return plain(cfg)


def load_acting_weights(state: dict[str, Any], cfg: DictConfig, device: torch.device) -> nn.Module:
    """The checkpoint's acting weights (the EMA copy when the run kept one) in a fresh policy, in eval mode."""
    meta = state["metadata"]
    policy = build_policy_model(cfg, meta["obs_dim"], meta["action_dim"], meta.get("action_box"))
    policy.load_state_dict(acting_weights(state["algorithm"]))
    return policy.to(device).eval()


def check_finished(state: dict[str, Any], file: object, allow_unfinished: bool = False, flag: str = "") -> bool:
    """Whether the checkpoint's training finished. An unfinished one is refused (one :class:`GenrlError` naming the
    file, where training stopped and the ways out), or with ``allow_unfinished`` loaded with a loud warning."""
    reason = unfinished_reason(state)
    if reason is None:
        return True
    flag = flag or "allow_unfinished=True"
    if not allow_unfinished:
        raise GenrlError(
            f"{file}: {reason}; finish it by rerunning its train.py command, or pass {flag} to evaluate it anyway"
        )
    log.warning("%s: %s; evaluating it anyway (%s): its scores are not the run's", file, reason, flag)
    return False


def load_acting_policy(
    state: dict[str, Any], device: str | torch.device = "cpu", **sampling: object
) -> tuple[nn.Module, ActingPolicy]:
    """The acting weights and the :class:`ActingPolicy` of a checkpoint (any algorithm), as its evaluation acted.

    ``sampling`` overrides the run's ``sampling.*`` settings (e.g. ``candidates=1``); a value that is not allowed
    is one :class:`ConfigError` naming the key.
    """
    device = torch.device(device)
    meta, weights = state["metadata"], state["algorithm"]
    cfg = checkpoint_config(state, **sampling)
    policy = load_acting_weights(state, cfg, device)
    obs_dim, action_dim = meta["obs_dim"], meta["action_dim"]
    critic = None
    if cfg.sampling.candidates > 1:  # the run's critic scores the candidates
        critic = build_critic(cfg, obs_dim, action_dim, device)
        if critic is None:
            raise ConfigError(f"sampling.candidates={cfg.sampling.candidates}: this run has no critic (critic=none)")
        critic.load_state_dict(weights["critic"])
    normalizer = meta.get("obs_normalizer")
    normalizer = ObservationNormalizer.from_dict(normalizer) if normalizer else None
    sample = make_sampler(cfg, policy)
    return policy, build_acting_policy(cfg, sample, critic, normalizer, meta.get("action_box"), device)


def build_acting_policy(
    cfg: DictConfig,
    sample: Callable[[Tensor], Tensor],
    critic: Any | None,
    normalizer: ObservationNormalizer | None,
    action_box: tuple[list[float], list[float]] | None,
    device: torch.device,
) -> ActingPolicy:
    """What acts in evaluation and deployment: normalisation, then ``sampling.candidates`` scored as the algorithm
    declares (:meth:`Algorithm.candidate_scorer`: the critic's min(Q1, Q2) in units of its advantage scale)."""
    sampling = cfg.sampling
    low, high = (None, None) if action_box is None else (torch.tensor(b, device=device) for b in action_box)
    score, scale = (None, 1.0) if critic is None else algorithm_class(cfg).candidate_scorer(critic, sampling)
    return ActingPolicy(
        sample, normalizer, sampling.candidates, score, sampling.selection, sampling.temperature, scale, low, high
    )
