"""Flow Q-learning (Park, Li, Levine, ICML 2025), on any genrl path: a multi-step generative behaviour policy, a
one-step noise-conditioned policy μ(s, z) distilled from it while maximising Q, and the TD double-Q critic on μ's
actions. Acting is one network call per action."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import BehaviourModel, DataActionBox
from genrl.critics import TDCritic
from genrl.critics.td import clipped_step
from genrl.data.transitions import Batch
from genrl.models import GenerativeModel
from genrl.models.one_step import OneStepPolicy
from genrl.ranges import Count, NonNegative
from genrl.training.phases import Metrics, Phase, frozen


class FQL(BehaviourModel, DataActionBox, Algorithm):
    """Phases: behaviour cloning of the multi-step policy μ_φ (the run's generative model and path), then, each step,
    the critic, the one-step policy and the target critic:

    * critic (``critic=td``): y = r + γ(1 − d)·min(Q̄1, Q̄2)(s', a'),  a' = μ_θ(s', z'),  z' ~ N(0, I);
    * one-step policy:  L(θ) = α·mean‖μ_θ(s, z) − Φ_φ(z; s)‖² − Q(s, μ_θ(s, z)) / mean|Q(s, μ_θ(s, z))|,

      Φ_φ(z; s) the ``flow_steps``-step Euler solution of μ_φ's ODE from the same noise z (genrl's solver, no
      gradient), Q = ½(Q1 + Q2) of the online twins, the denominator not differentiated (FQL's ``normalize_q_loss``:
      α is then a weight against a unit-scale Q term at any reward scale). Actions that Q and the distillation
      target see are clamped to the dataset's action box (the paper clips to [−1, 1]).

    Acting: a = μ_θ(s, z), z ~ N(0, τ²I) with τ = ``sampling.noise_scale``; one network call.
    """

    policy_key = "policy"  # the one-step policy μ_θ(s, z) (algorithm.policy); the generative model is μ_φ
    behaviour_model = True
    critics = ("td",)
    policy: OneStepPolicy
    state_scalars = ("updates",)

    def __init__(
        self,
        make_model: Callable[[], OneStepPolicy],
        make_behaviour: Callable[[], GenerativeModel],
        critic: TDCritic,
        behaviour_optimizer: Callable[..., torch.optim.Optimizer],
        optimizer: Callable[..., torch.optim.Optimizer],
        alpha: NonNegative,
        behaviour_epochs: float,
        epochs: float,
        behaviour_batch_size: Count = 256,
        batch_size: Count = 256,
        flow_steps: Count = 10,
        normalize_q_loss: bool = True,
        grad_norm: float | None = None,
    ) -> None:
        if grad_norm is not None and not grad_norm > 0:
            raise ValueError(f"algorithm.grad_norm must be > 0 or null, got {grad_norm}")
        self.init_behaviour(make_behaviour(), behaviour_optimizer, behaviour_epochs, behaviour_batch_size)
        self.policy, self.critic = make_model(), critic
        self.optimizer = optimizer(self.policy.parameters())
        self.alpha, self.flow_steps, self.grad_norm = alpha, flow_steps, grad_norm
        self.normalize_q_loss = normalize_q_loss
        self.epochs, self.batch_size = epochs, batch_size
        self.updates = 0

    @property
    def acting_policy(self) -> OneStepPolicy:
        return self.policy

    def phases(self) -> list[Phase]:
        return [
            self.behaviour_phase(),
            Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.fit_action_box, evaluate=True),
        ]

    def compilable_modules(self) -> list:
        return [self.behaviour.net, self.policy, self.critic.q, self.critic.q_target]

    @classmethod
    def make_sampler(
        cls, policy: OneStepPolicy, sampling: Mapping[str, Any], fused: bool = False, compile_mode=None
    ) -> Callable[[Tensor], Tensor]:
        """z ~ N(0, τ²I), a = μ(s, z): one forward call per state (``sampling.steps``/``method`` do not apply)."""
        return policy.sampler(sampling["noise_scale"])

    @classmethod
    def make_noise_sampler(cls, policy: OneStepPolicy, sampling: Mapping[str, Any]) -> Callable:
        """a = μ(s, τ·z) in the action box."""
        scale = sampling["noise_scale"]
        return lambda obs, noise: policy.act(obs, scale * noise)

    @classmethod
    def candidate_scorer(cls, critic: TDCritic, sampling: Mapping[str, Any]) -> tuple[Callable, float]:
        """min(Q̄1, Q̄2) in Q's own units (the TD critic has no advantage scale)."""
        return critic.score, 1.0

    def teacher(self, obs: Tensor, noise: Tensor) -> Tensor:
        """Φ_φ(z; s): the behaviour model's ``flow_steps``-step Euler solution from z, in the data's action box."""
        with torch.no_grad():
            return self.clamp_to_data(self.behaviour.sample(obs, steps=self.flow_steps, x_0=noise, fused=True))

    def policy_loss(self, obs: Tensor) -> tuple[Tensor, Metrics]:
        noise = torch.randn(obs.shape[0], self.policy.action_dim, device=obs.device, dtype=obs.dtype)
        action = self.policy(obs, noise)
        distill = (action - self.teacher(obs, noise)).pow(2).mean()
        with frozen(self.critic.q):
            q1, q2 = self.critic.q(obs, self.clamp_to_data(action))
        q = 0.5 * (q1 + q2)
        q_loss = -q.mean()
        if self.normalize_q_loss:
            q_loss = q_loss / q.abs().mean().detach().clamp_min(1e-6)
        loss = self.alpha * distill + q_loss
        return loss, {"loss": loss.detach(), "distill_loss": distill.detach(), "q_loss": q_loss.detach(),
                      "q_mean": q.mean().detach()}  # fmt: skip

    def update(self, batch: Batch) -> Metrics:
        with torch.no_grad():
            noise = torch.randn(batch.next_obs.shape[0], self.policy.action_dim, device=batch.next_obs.device)
            next_action = self.clamp_to_data(self.policy(batch.next_obs, noise))
        critic_metrics = self.critic.update(batch, next_action)
        loss, metrics = self.policy_loss(batch.obs)
        clipped_step(self.optimizer, loss, self.policy, self.grad_norm)
        self.critic.update_target()
        self.updates += 1
        return {**metrics, **critic_metrics}

    def stateful_members(self) -> dict[str, Any]:
        return {
            **self.behaviour_members(),
            "policy": self.policy,
            "optimizer": self.optimizer,
            "critic": self.critic,
        }
