"""A trained policy, ready to act: ``Agent.from_checkpoint(path).act(obs)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from genrl.acting import ActingPolicy
from genrl.data.normalization import ObservationNormalizer
from genrl.errors import GenrlError
from genrl.models import GenerativeModel
from genrl.training.acceleration import make_policy_sampler
from genrl.training.checkpoint import load_checkpoint


class Agent:
    """Acts like the run's evaluation: its observation normalisation, its acting weights (the EMA copy when
    the run kept one), ``sampling.candidates`` actions scored by the run's critic, fresh noise per call."""

    def __init__(self, model: GenerativeModel, policy: ActingPolicy, obs_dim: int, device: str = "cpu") -> None:
        self.model = model  # the generative policy's acting weights
        self.policy = policy  # obs → action, as in evaluation
        self.obs_dim, self.device = obs_dim, torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", **sampling: object) -> Agent:
        """Load the policy of a run: ``path`` is a run folder or its ``checkpoint.pt``.

        ``sampling`` overrides the run's ``sampling.*`` settings (e.g. ``candidates=1``).
        """
        from genrl.config import Config
        from genrl.experiment import CHECKPOINT_FILE, build, build_acting_policy, build_policy_model

        path = Path(path)
        file = path / CHECKPOINT_FILE if path.is_dir() else path
        state = load_checkpoint(file, map_location=device)
        if state is None:
            raise GenrlError(f"{file}: no checkpoint here (expected a run folder or its {CHECKPOINT_FILE})")
        meta, weights = state["metadata"], state["algorithm"]
        cfg = OmegaConf.merge(OmegaConf.structured(Config), meta["config"])  # defaults for keys added since
        for key, value in sampling.items():
            OmegaConf.update(cfg, f"sampling.{key}", value)
        obs_dim, action_dim = meta["obs_dim"], meta["action_dim"]
        policy = build_policy_model(cfg, obs_dim, action_dim)
        if "policy_ema" in weights:  # torch's AveragedModel: the averaged module under "module."
            policy_state = {k.removeprefix("module."): v for k, v in weights["policy_ema"].items() if k != "n_averaged"}
        else:
            policy_state = weights["policy"]
        policy.load_state_dict(policy_state)
        policy.to(device).eval()
        critic_q, scale = None, 1.0
        if cfg.sampling.candidates > 1:
            critic_q = build(cfg.critic.q_net, obs_dim=obs_dim, action_dim=action_dim)
            critic_q.load_state_dict(weights["critic"]["q"])
            critic_q.to(device).eval()
            scale = float(weights["critic"].get("advantage_scale", 1.0))
        normalizer = meta.get("obs_normalizer")
        normalizer = ObservationNormalizer.from_dict(normalizer) if normalizer else None
        sampling_cfg = cfg.sampling
        sample = make_policy_sampler(
            policy, sampling_cfg.steps, sampling_cfg.method, noise_scale=sampling_cfg.noise_scale
        )
        acting = build_acting_policy(
            cfg, sample, critic_q, scale, normalizer, meta.get("action_box"), torch.device(device)
        )
        return cls(policy, acting, obs_dim, device)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """One observation (S,) → one action (A,); a batch (B, S) → (B, A)."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        if obs_t.dim() not in (1, 2) or obs_t.shape[-1] != self.obs_dim:
            raise GenrlError(
                f"Agent.act: expected an observation of shape ({self.obs_dim},) or (B, {self.obs_dim}), "
                f"got {tuple(obs_t.shape)}"
            )
        if not torch.isfinite(obs_t).all():
            raise GenrlError("Agent.act: the observation contains NaN or inf")
        single = obs_t.dim() == 1
        actions = self.policy(obs_t[None] if single else obs_t).cpu().numpy()
        return actions[0] if single else actions
