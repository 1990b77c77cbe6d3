"""A trained policy, ready to act: ``Agent.from_checkpoint(path).act(obs)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from genrl.acting.export import export_policy
from genrl.acting.loading import check_finished, checkpoint_config, load_acting_policy
from genrl.acting.policy import ActingPolicy
from genrl.building import algorithm_class
from genrl.errors import GenrlError
from genrl.run_folder import CHECKPOINT_FILE
from genrl.training.checkpoint import load_checkpoint


class Agent:
    """Acts like the run's evaluation: its observation normalisation, its acting weights (the EMA copy when
    the run kept one), ``sampling.candidates`` actions scored by the run's critic, fresh noise per call.
    Any algorithm's checkpoint: the generative policy of GMPO/GMPG/BC or IQL's Gaussian policy."""

    def __init__(self, model: nn.Module, policy: ActingPolicy, obs_dim: int, device: str = "cpu") -> None:
        self.model = model  # the policy's acting weights
        self.policy = policy  # obs → action, as in evaluation
        self.obs_dim, self.device = obs_dim, torch.device(device)
        self.noise_sampler = None  # (obs, z) → action, what export traces (set by from_checkpoint)
        self.action_dim: int | None = None

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str = "cpu", allow_unfinished: bool = False, **sampling: object
    ) -> Agent:
        """Load the policy of a run: ``path`` is a run folder or its ``checkpoint.pt``.

        ``sampling`` overrides the run's ``sampling.*`` settings (e.g. ``candidates=1``). The checkpoint of a run
        whose training has not finished (it crashed or was stopped) is refused with one :class:`GenrlError`;
        ``allow_unfinished=True`` loads it with a warning.
        """
        path = Path(path)
        file = path / CHECKPOINT_FILE if path.is_dir() else path
        state = load_checkpoint(file, map_location=device)
        if state is None:
            raise GenrlError(f"{file}: no checkpoint here (expected a run folder or its {CHECKPOINT_FILE})")
        check_finished(state, file, allow_unfinished)
        policy, acting = load_acting_policy(state, device, **sampling)
        obs_dim = state["metadata"]["obs_dim"]
        agent = cls(policy, acting, obs_dim, device)
        cfg = checkpoint_config(state, **sampling)
        agent.noise_sampler = algorithm_class(cfg).make_noise_sampler(policy, cfg.sampling)
        agent.action_dim = state["metadata"]["action_dim"]
        return agent

    def export(self, path: str | Path) -> Path:
        """Save the acting policy with its observation normalisation as one TorchScript file, runnable with plain
        PyTorch: ``torch.jit.load(path)(obs)`` acts as :meth:`act` (same actions for the same ``torch.manual_seed``;
        ``(obs, noise)`` fixes z). One action per state: a run that selects among K > 1 candidates is exported with
        ``Agent.from_checkpoint(run, candidates=1)``."""
        if self.policy.candidates > 1:
            raise GenrlError(
                f"Agent.export: sampling.candidates={self.policy.candidates} selects by the critic; export one action "
                "per state (Agent.from_checkpoint(run, candidates=1))"
            )
        if self.noise_sampler is None:
            raise GenrlError("Agent.export: this policy is not a traceable map from noise to action")
        return export_policy(self.model, self.noise_sampler, self.policy.normalizer, self.obs_dim, self.action_dim,
                             path, self.device)  # fmt: skip

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """One observation (S,) → one action (A,); a batch (B, S) → (B, A)."""
        try:
            array = np.asarray(obs, dtype=np.float32)
        except (TypeError, ValueError):
            raise GenrlError(
                f"Agent.act: expected a numeric observation of shape ({self.obs_dim},) or (B, {self.obs_dim}), "
                f"got {type(obs).__name__}"
            ) from None
        obs_t = torch.as_tensor(array, device=self.device)
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
