"""Diffusion-QL (Wang, Hunt, Zhou, ICLR 2023): behaviour cloning plus the critic's value of the action sampled
differentiably through the generative chain, with a TD double-Q critic on a target (EMA) policy's actions (or,
``critic=iql``, an in-sample critic trained first and frozen)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import torch
from torch import Tensor

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import LR_SCHEDULES, DataActionBox, cosine_factor
from genrl.critics import IQLCritic, TDCritic
from genrl.critics.td import clipped_step
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models import GenerativeModel
from genrl.models.ema import ema_of
from genrl.ranges import Count, Decay, NonNegative, Positive, Range
from genrl.training.phases import Metrics, Phase, frozen


class DQL(DataActionBox, Algorithm):
    """One phase; each step updates the critic, then the policy, then the target networks:

    * critic (``critic=td``): y = r + γ(1 − d)·min(Q̄1, Q̄2)(s', a'), a' ~ π̄(·|s') the target policy (EMA of π);
    * policy:  L(θ) = E[ℓ_θ(a | s)] + η·(−Q_i(s, a_θ) / mean|Q_j(s, a_θ)|),   a_θ = Φ_θ(z; s),

      ℓ_θ the generative loss of the run's path, a_θ the ``grad_steps``-step Euler sample clamped to the dataset's
      action box (the paper clips its samples to the box) and differentiated through the whole chain
      (``recompute=True`` checkpoints each step: the same gradient bit for bit in less memory, ~25 % slower),
      (i, j) = (1, 2) or (2, 1) with probability ½ each and the denominator not differentiated (the paper's
      normalisation);
    * π̄ ← EMA(π) every ``ema_every`` steps from step ``ema_start``; Q̄ ← ρ·Q + (1 − ρ)·Q̄.

    Optional warm start (not in the paper; off by default, the paper's one phase): ``behaviour_epochs > 0`` first
    fits π by the BC loss alone (the policy optimiser at its base lr), ``critic_epochs > 0`` then trains the critic
    by the same TD step on π̄ = π (frozen: SARSA on the cloned behaviour); the joint phase starts from both, with
    π̄ a copy of π until ``ema_start``.

    ``critic=iql`` (not the paper's; the in-sample critic of EDP, Kang et al. 2023): Q is IQL's, learnt from the
    dataset's actions alone in a phase of its own before the others and frozen after, so the Q term is never
    bootstrapped from π's own actions; the joint phase is then the policy step alone (no TD step, no target policy,
    the critic's lr untouched). The TD warm start (``critic_epochs``) does not apply.

    Acting (the paper's): K = ``sampling.candidates`` samples of π, one drawn ∝ softmax(min(Q̄1, Q̄2)/T)
    (``conf/algorithm/dql.yaml``: K = 50, softmax, T = 1 in Q's units; ``critic=iql``: min(Q1, Q2), the same units).
    """

    critics = ("td", "iql")
    state_scalars = ("updates",)

    def __init__(
        self,
        make_model: Callable[[], GenerativeModel],
        critic: TDCritic | IQLCritic,
        optimizer: Callable[..., torch.optim.Optimizer],
        eta: NonNegative,
        epochs: Positive,
        batch_size: Count = 256,
        grad_steps: Count = 5,
        recompute: bool = False,
        grad_norm: Positive | None = 1.0,
        ema_decay: Decay = 0.995,
        ema_start: Annotated[int, Range(0)] = 1000,
        ema_every: Count = 5,
        lr_schedule: str = "cosine",
        behaviour_epochs: NonNegative = 0.0,
        critic_epochs: NonNegative = 0.0,
    ) -> None:
        check_choice("algorithm.lr_schedule", lr_schedule, LR_SCHEDULES)
        if critic_epochs > 0 and isinstance(critic, IQLCritic):
            raise ValueError(f"algorithm.critic_epochs={critic_epochs} trains the TD critic on π's actions; "
                             "critic=iql trains in a phase of its own: expected algorithm.critic_epochs=0 "
                             "(or critic=td)")  # fmt: skip
        self.policy, self.critic = make_model(), critic
        self.optimizer = optimizer(self.policy.parameters())
        self.target_policy = ema_of(self.policy, ema_decay)  # not the acting weights: TD targets only
        self.eta, self.epochs, self.batch_size = eta, epochs, batch_size
        self.grad_steps, self.recompute, self.grad_norm = grad_steps, recompute, grad_norm
        self.ema_start, self.ema_every, self.lr_schedule = ema_start, ema_every, lr_schedule
        self.behaviour_epochs, self.critic_epochs = behaviour_epochs, critic_epochs
        self.optimizers = (self.optimizer,) if self.in_sample else (self.optimizer, critic.optimizer)
        self.base_lr = [[group["lr"] for group in opt.param_groups] for opt in self.optimizers]
        self.decay_steps: int | None = None
        self.updates = 0

    @property
    def acting_policy(self) -> GenerativeModel:
        """The online policy acts (the paper samples from the actor, not its EMA)."""
        return self.policy

    @property
    def in_sample(self) -> bool:
        """Whether Q is learnt from the dataset's actions alone (``critic=iql``) rather than π̄'s (``critic=td``)."""
        return isinstance(self.critic, IQLCritic)

    def phases(self) -> list[Phase]:
        phases = [self.critic.phase()] if self.in_sample else []
        if self.behaviour_epochs > 0:
            phases.append(Phase("behaviour", self.behaviour_epochs, self.batch_size, self.clone_behaviour))
        if self.critic_epochs > 0:
            phases.append(Phase("critic", self.critic_epochs, self.batch_size, self.update_critic,
                                on_start=self.start_critic))  # fmt: skip
        start = self.start_policy if self.behaviour_epochs > 0 or self.critic_epochs > 0 else self.fit_action_box
        phases.append(Phase("policy", self.epochs, self.batch_size, self.update, on_start=start, evaluate=True))
        return phases

    def set_phase_steps(self, steps: dict[str, int]) -> None:
        if self.lr_schedule == "cosine":
            self.decay_steps = int(steps["policy"])

    def compilable_modules(self) -> list:
        """The critic only: the policy network is differentiated through the whole chain."""
        return [self.critic.q, self.critic.q_target]

    @classmethod
    def candidate_scorer(cls, critic: TDCritic, sampling: Mapping[str, Any]) -> tuple[Callable, float]:
        """min(Q̄1, Q̄2) in Q's own units (unit 1): softmax(Q/T) with T = 1 is the paper's selection."""
        return critic.score, 1.0

    def sample(self, model: GenerativeModel, obs: Tensor, recompute: bool = False) -> Tensor:
        """The ``grad_steps``-step Euler sample, clamped to the dataset's action box."""
        return self.clamp_to_data(model.sample(obs, steps=self.grad_steps, recompute=recompute))

    def policy_loss(self, batch: Batch) -> tuple[Tensor, Metrics]:
        """BC loss + η·(−Q_i(s, a_θ)/mean|Q_j(s, a_θ)|), a_θ differentiated through the sampling chain."""
        bc = self.policy.loss(batch.action, batch.obs).mean()
        action = self.sample(self.policy, batch.obs, recompute=self.recompute)
        with frozen(self.critic.q):
            q1, q2 = self.critic.q(batch.obs, action)
        if torch.rand(()) > 0.5:
            q1, q2 = q2, q1
        q_term = -q1.mean() / q2.abs().mean().detach()
        loss = bc + self.eta * q_term
        return loss, {"loss": loss.detach(), "bc_loss": bc.detach(), "q_term": q_term.detach()}

    def clone_behaviour(self, batch: Batch) -> Metrics:
        """Warm start: one step of the BC loss alone."""
        loss = self.policy.loss(batch.action, batch.obs).mean()
        clipped_step(self.optimizer, loss, self.policy, self.grad_norm)
        return {"bc_loss": loss.detach()}

    def copy_to_target_policy(self) -> None:
        """π̄ ← π; the joint phase's first EMA update (step ``ema_start``) copies π again, then averages."""
        self.target_policy.module.load_state_dict(self.policy.state_dict())

    def start_critic(self, data: Transitions) -> None:
        self.fit_action_box(data)
        self.copy_to_target_policy()

    def update_critic(self, batch: Batch) -> Metrics:
        """Warm start: the TD step on the frozen π̄ = π's actions."""
        with torch.no_grad():
            next_action = self.sample(self.target_policy.module, batch.next_obs)
        metrics = self.critic.update(batch, next_action)
        self.critic.update_target()
        return metrics

    def start_policy(self, data: Transitions) -> None:
        """After a warm start: the joint phase begins with π̄ = π (the paper's π̄ is π's initial weights)."""
        self.fit_action_box(data)
        if self.critic_epochs <= 0:
            self.copy_to_target_policy()

    def update(self, batch: Batch) -> Metrics:
        factor = cosine_factor(self.updates, self.decay_steps)
        for opt, base in zip(self.optimizers, self.base_lr):
            for group, lr in zip(opt.param_groups, base):
                group["lr"] = lr * factor
        critic_metrics = {} if self.in_sample else self.update_td_critic(batch)  # in-sample: Q is frozen
        loss, metrics = self.policy_loss(batch)
        clipped_step(self.optimizer, loss, self.policy, self.grad_norm)
        self.updates += 1
        if not self.in_sample:
            if self.updates >= self.ema_start and self.updates % self.ema_every == 0:
                self.target_policy.update_parameters(self.policy)
            self.critic.update_target()
        return {**metrics, **critic_metrics, "lr": self.optimizer.param_groups[0]["lr"]}

    def update_td_critic(self, batch: Batch) -> Metrics:
        """The TD step on the target policy's next actions: a' = clip(Φ_θ̄(z; s'))."""
        with torch.no_grad():
            next_action = self.sample(self.target_policy.module, batch.next_obs)
        return self.critic.update(batch, next_action)

    def stateful_members(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "optimizer": self.optimizer,
            "target_policy": self.target_policy,
            "critic": self.critic,
        }
