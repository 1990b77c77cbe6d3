"""A trained policy, ready to act: ``Agent.from_checkpoint(path).act(obs)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from genrl.errors import GenrlError
from genrl.models import GenerativeModel
from genrl.training.checkpoint import load_checkpoint


class Agent:
    """Samples actions from a generative policy with the run's sampling settings (fresh noise per call)."""

    def __init__(self, policy: GenerativeModel, steps: int = 31, method: str = "euler", device: str = "cpu") -> None:
        self.policy = policy.to(device).eval()
        self.steps, self.method, self.device = steps, method, torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> Agent:
        """Load the policy of a run: ``path`` is a run folder or its ``checkpoint.pt``."""
        from genrl.experiment import CHECKPOINT_FILE, build_policy_model  # the composition root builds models

        path = Path(path)
        file = path / CHECKPOINT_FILE if path.is_dir() else path
        state = load_checkpoint(file, map_location=device)
        if state is None:
            raise GenrlError(f"{file}: no checkpoint here (expected a run folder or its {CHECKPOINT_FILE})")
        meta = state["metadata"]
        cfg = OmegaConf.create(meta["config"])
        policy = build_policy_model(cfg, meta["obs_dim"], meta["action_dim"])
        policy.load_state_dict(state["algorithm"]["policy"])
        return cls(policy, cfg.sampling.steps, cfg.sampling.method, device)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """One observation (S,) → one action (A,); a batch (B, S) → (B, A)."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        single = obs_t.dim() == 1
        actions = self.policy.sample(obs_t[None] if single else obs_t, steps=self.steps, method=self.method)
        actions = actions.cpu().numpy()
        return actions[0] if single else actions
