"""What acts, built from a run's config: evaluation's policy during training, and a checkpoint's for deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import Tensor, nn

from genrl.acting.policy import ActingPolicy
from genrl.building import build, build_policy_model
from genrl.config import Config, plain, without_retired_keys
from genrl.config_checks import check_ranges, resolved
from genrl.data.normalization import ObservationNormalizer
from genrl.errors import ConfigError
from genrl.models import GenerativeModel
from genrl.training.acceleration import make_policy_sampler


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
    sample = make_sampler(cfg, policy)
    return policy, build_acting_policy(cfg, sample, critic_q, scale, normalizer, meta.get("action_box"), device)


def build_acting_policy(
    cfg: DictConfig, sample: Callable[[Tensor], Tensor], critic_q: nn.Module | None, advantage_scale: float,
    normalizer: ObservationNormalizer | None, action_box: tuple[list[float], list[float]] | None, device: torch.device,
) -> ActingPolicy:
    """What acts in evaluation and deployment: normalisation, then ``sampling.candidates`` scored by min(Q1, Q2)."""
    sampling = cfg.sampling
    low, high = (None, None) if action_box is None else (torch.tensor(b, device=device) for b in action_box)
    return ActingPolicy(
        sample, normalizer, sampling.candidates, critic_q.min_q if critic_q is not None else None,
        sampling.selection, sampling.temperature, advantage_scale, low, high,
    )  # fmt: skip
