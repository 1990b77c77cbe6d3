"""GMPG: generative-model policy gradient through the ODE sampler, regularised towards μ (spec §6)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import BehaviourModel, DataActionBox
from genrl.critics import IQLCritic
from genrl.critics.advantage_scale import AdvantageUnit
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models import GenerativeModel, LikelihoodSettings
from genrl.models.ema import ema_of
from genrl.ranges import Count, Decay, Fraction, NonNegative, Positive
from genrl.training.phases import Metrics, Phase, frozen

GRADIENTS = ("exact", "reference")


class GMPG(BehaviourModel, DataActionBox, Algorithm):
    """Phases: behaviour cloning of μ, the IQL critic, then π (initialised as a copy of μ) by policy gradient.

    ``grad_steps`` Euler steps are used for the differentiable sample a_θ = Φ_θ(z; s) and for the likelihoods
    (the reference uses 999). Two gradients of the KL term:

    * ``exact`` (default): log π_θ(a_θ) is the exact density of the Euler sampler along its own path
      (log N(z) − Σ log|det(I + h·∂v/∂x)|) and log μ(a_θ) the change-of-variables likelihood of μ, both
      differentiated exactly. At β = 0 the gradient vanishes at π = μ, as it should.
    * ``reference``: the reference's frozen-adjoint gradient (spec §2.4): stop-gradient Euler likelihoods for
      both, so ∂log π/∂a = −z_π and ∂log μ/∂a = −z_μ. It is biased: with β = 0 it drives π away from μ.

    ``recompute`` checkpoints every ODE step (memory O(steps·B·A)); ``chunk_size`` accumulates the gradient
    over slices of the batch. Options beyond the reference (off by default):

    * ``advantage_normalization="std"``: the Q term is −β·Q/σ_A, σ_A the critic's advantage std over the data,
      so β is dimensionless (the same β means the same trade-off against the KL at any reward scale);
      ``"ess"``: −β·Q/T_ess (genrl/critics/advantage_scale.py);
    * ``clamp_actions``: Q is evaluated at a_θ clamped to the dataset's action box — the action the simulator
      executes — so π gains nothing from drifting where Q extrapolates outside the data's support;
    * ``ema_decay``: μ is the exponential moving average of the behaviour-cloning weights (π starts from it).
    """

    def __init__(
        self,
        make_model: Callable[[], GenerativeModel],
        critic: IQLCritic,
        behaviour_optimizer: Callable[..., torch.optim.Optimizer],
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: NonNegative,
        behaviour_epochs: NonNegative,
        epochs: Positive,
        behaviour_batch_size: Count = 4096,
        batch_size: Count = 40960,
        grad_steps: Count = 32,
        gradient: str = "exact",
        estimator: str = "exact",
        probe: str = "gaussian",
        recompute: bool = True,
        chunk_size: Count | None = None,
        advantage_normalization: str = "none",
        target_ess: Fraction = 0.5,
        clamp_actions: bool = False,
        ema_decay: Decay | None = None,
    ) -> None:
        check_choice("algorithm.gradient", gradient, GRADIENTS)
        self.unit = AdvantageUnit(advantage_normalization, target_ess)
        self.init_behaviour(make_model(), behaviour_optimizer, behaviour_epochs, behaviour_batch_size)
        self.policy, self.critic = make_model(), critic
        self.optimizer = optimizer(self.policy.parameters())
        self.beta = beta
        self.epochs, self.batch_size = epochs, batch_size
        self.grad_steps, self.estimator, self.probe = grad_steps, estimator, probe
        self.gradient, self.recompute, self.chunk_size = gradient, recompute, chunk_size
        self.kl_scale = 1.0 / (self.policy.action_dim * math.log(2.0))
        self.clamp_actions = clamp_actions
        self.behaviour_ema = ema_of(self.behaviour, ema_decay) if ema_decay is not None else None

    @property
    def acting_policy(self) -> GenerativeModel:
        return self.policy

    def phases(self) -> list[Phase]:
        return [
            self.behaviour_phase(),
            self.critic.phase(),
            Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy, evaluate=True),
        ]

    def compilable_modules(self) -> list[nn.Module]:
        """The critic only: the policy networks are differentiated twice (divergences), which compile lacks."""
        return [self.critic.q, self.critic.v, self.critic.q_target]

    # -- phase 1: behaviour cloning ------------------------------------------------------------------
    def update_behaviour(self, batch: Batch) -> Metrics:
        """L(φ) = E[ℓ_φ(a | s)], then μ's EMA (``ema_decay``)."""
        metrics = super().update_behaviour(batch)
        if self.behaviour_ema is not None:
            self.behaviour_ema.update_parameters(self.behaviour)
        return metrics

    # -- phase 3: policy gradient ----------------------------------------------------------------------
    def start_policy(self, data: Transitions) -> None:
        """π ← μ, including the Fourier time features (spec §6); μ ← its EMA first; σ_A and the action box."""
        if self.behaviour_ema is not None:
            self.behaviour.load_state_dict(self.behaviour_ema.module.state_dict())
        self.policy.load_state_dict(self.behaviour.state_dict())
        self.unit.fit(self.critic, data)
        self.fit_action_box(data)

    def policy_loss(self, obs: Tensor) -> tuple[Tensor, Metrics]:
        """L(θ) = E_s[ −β·Q(s, a_θ) + (log π_θ(a_θ|s) − log μ(a_θ|s)) / (A·ln 2) ],  a_θ = Φ_θ(z; s)  (spec §6)."""
        if self.gradient == "exact":
            action, log_pi = self.policy.sample_with_log_prob(obs, self.grad_steps, recompute=self.recompute)
            log_mu = self._log_prob(self.behaviour, action, obs)
        else:
            action = self.policy.sample(obs, steps=self.grad_steps, recompute=self.recompute)
            log_pi = self._log_prob(self.policy, action, obs, stopgrad_state=True)
            log_mu = self._reference_behaviour_log_prob(action, obs)
        q = self.critic.q.min_q(obs, self._clamp(action))
        kl = (log_pi - log_mu) * self.kl_scale  # bits per action dimension
        loss = (-self.beta * q / self.unit.of(self.critic) + kl).mean()
        return loss, {"loss": loss.detach(), "q_mean": q.detach().mean(), "kl_bits": kl.detach().mean()}

    def _clamp(self, action: Tensor) -> Tensor:
        return self.clamp_to_data(action) if self.clamp_actions else action

    def _log_prob(
        self, model: GenerativeModel, action: Tensor, obs: Tensor, stopgrad_state: bool = False, return_latent=False
    ):
        """log model(a | s) on ``grad_steps`` Euler steps with GMPG's estimator, probe and recompute options."""
        settings = LikelihoodSettings(
            steps=self.grad_steps, estimator=self.estimator, probe=self.probe, stopgrad_state=stopgrad_state,
            recompute=self.recompute,
        )  # fmt: skip
        return model.log_prob(action, obs, settings=settings, return_latent=return_latent)

    def _reference_behaviour_log_prob(self, action: Tensor, obs: Tensor) -> Tensor:
        """log μ(a|s) with the reference's gradient ∂log μ/∂a = −z_μ (stop-gradient likelihood, spec §2.4).

        μ is frozen, so the value is computed without any graph and the gradient is attached through a
        first-order surrogate: the same gradient as backpropagating the stop-gradient ODE, for one solve.
        """
        with torch.no_grad():
            log_mu, z_mu = self._log_prob(self.behaviour, action, obs, stopgrad_state=True, return_latent=True)
        return log_mu - (z_mu * (action - action.detach())).sum(-1)

    def update(self, batch: Batch) -> Metrics:
        obs = batch.obs
        chunks = obs.split(self.chunk_size or obs.shape[0])
        totals: dict[str, Tensor] = {}
        self.optimizer.zero_grad(set_to_none=True)
        with frozen(self.critic.q, self.behaviour):
            for chunk in chunks:
                loss, metrics = self.policy_loss(chunk)
                share = chunk.shape[0] / obs.shape[0]
                (loss * share).backward()
                for key, value in metrics.items():
                    totals[key] = totals.get(key, 0.0) + value * share
        self.optimizer.step()
        return totals

    # -- state -----------------------------------------------------------------------------------------
    def stateful_members(self) -> dict[str, Any]:
        ema = {} if self.behaviour_ema is None else {"behaviour_ema": self.behaviour_ema}
        return {
            **ema,
            **self.behaviour_members(),
            "policy": self.policy,
            "optimizer": self.optimizer,
            "critic": self.critic,
        }
