"""IQL (Kostrikov et al., ICLR 2022) as a baseline: genrl's IQL critic, then a Gaussian policy by AWR."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import LR_SCHEDULES, PolicyUpdates, capped_weights, cosine_factor
from genrl.critics import IQLCritic
from genrl.critics.advantage_scale import AdvantageUnit
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models.gaussian import GaussianPolicy
from genrl.ranges import Count, Decay, Fraction, NonNegative, Positive
from genrl.training.phases import Metrics, Phase


class IQL(PolicyUpdates, Algorithm):
    """Phases: the IQL critic (shared with GMPO/GMPG), then the Gaussian actor by advantage-weighted regression,

        L(θ) = −(1/B)·Σ_i min(exp(β·A(s_i, a_i)), W_max)·log π_θ(a_i | s_i),   A = min(Q̄1, Q̄2)(s, a) − V(s),

    with Q̄ the critic's target networks, as in the official implementation's actor update. Published
    locomotion values: expectile 0.7, β = 3, W_max = 100, Adam 3·10⁻⁴ with the actor's learning rate
    cosine-decayed to 0 over the policy phase (``lr_schedule="cosine"``).

    The official implementation updates V, the actor and Q in one joint step for 1M steps; genrl keeps its
    phase structure: the critic is trained to completion first and frozen, then the actor is extracted from
    it (the critic never depends on the actor in IQL, so only the order of the updates differs).
    """

    policy_key = "policy"  # its own Gaussian actor (algorithm.policy), not the generative model
    policy: GaussianPolicy
    state_scalars = ("policy_updates",)

    def __init__(
        self,
        make_model: Callable[[], GaussianPolicy],
        critic: IQLCritic,
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: NonNegative = 3.0,
        max_weight: Positive = 100.0,
        epochs: Positive = 256,
        batch_size: Count = 256,
        advantage_normalization: str = "none",
        target_ess: Fraction = 0.5,
        lr_schedule: str = "cosine",
        ema_decay: Decay | None = None,
    ) -> None:
        self.unit = AdvantageUnit(advantage_normalization, target_ess)
        check_choice("algorithm.lr_schedule", lr_schedule, LR_SCHEDULES)
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.beta, self.max_weight = beta, max_weight
        self.epochs, self.batch_size = epochs, batch_size
        self.lr_schedule = lr_schedule
        self.base_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.decay_steps: int | None = None  # the policy phase's length, once the budget is known
        self.policy_updates = 0  # actor steps taken (the cosine schedule's clock; saved with the state)

    def phases(self) -> list[Phase]:
        policy = Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy, evaluate=True)
        return [self.critic.phase(), policy]

    def set_phase_steps(self, steps: dict[str, int]) -> None:
        """The budget's phase lengths: the cosine schedule decays the actor's lr to 0 over the policy phase."""
        if self.lr_schedule == "cosine":
            self.decay_steps = int(steps["policy"])

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy, self.critic.q, self.critic.v, self.critic.q_target]

    @classmethod
    def make_sampler(
        cls, policy: GaussianPolicy, sampling: Mapping[str, Any], fused: bool = False, compile_mode: str | None = None
    ) -> Callable[[Tensor], Tensor]:
        """The Gaussian's own draw: its mean when deterministic, else mean + ``sampling.noise_scale``·σ·ε."""
        return policy.sampler(sampling["noise_scale"])

    @classmethod
    def make_noise_sampler(cls, policy: GaussianPolicy, sampling: Mapping[str, Any]) -> Callable:
        """The same draw with ε = z given (the mean when deterministic)."""
        scale = 0.0 if policy.deterministic else sampling["noise_scale"]
        return lambda obs, noise: policy.sample(obs, scale, noise)

    def start_policy(self, data: Transitions) -> None:
        """Measure the advantage unit of the frozen critic (σ_A or T_ess: the weights, softmax candidate selection)."""
        self.unit.fit(self.critic, data)

    @torch.no_grad()
    def weights(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """(w, β·A/σ): w = min(exp(β·A/σ), W_max), A from the target Q̄ and V, σ = σ_A, T_ess or 1."""
        advantage = self.critic.q_target.min_q(obs, action) - self.critic.v(obs)
        beta_adv = self.beta * advantage / self.unit.of(self.critic)
        return capped_weights(beta_adv, self.max_weight), beta_adv

    def learning_rate_factor(self) -> float:
        """½(1 + cos(π·k/T)) at actor step k of T (optax's cosine_decay_schedule); 1 without a schedule."""
        return cosine_factor(self.policy_updates, self.decay_steps)

    def update(self, batch: Batch) -> Metrics:
        weight, beta_adv = self.weights(batch.obs, batch.action)
        log_prob = self.policy.log_prob(batch.action, batch.obs)
        loss = -(weight * log_prob).mean()
        factor = self.learning_rate_factor()
        for group, lr in zip(self.optimizer.param_groups, self.base_lr):
            group["lr"] = lr * factor
        self.policy_step(loss)
        self.policy_updates += 1
        return {
            "loss": loss.detach(),
            "log_prob": log_prob.detach().mean(),
            "weight_mean": weight.mean(),
            "clamped_fraction": (beta_adv > math.log(self.max_weight)).float().mean(),
            "std_mean": self.policy.std.detach().mean(),
            "lr": self.optimizer.param_groups[0]["lr"],
        }
