"""IQL (Kostrikov et al., ICLR 2022) as a baseline: genrl's IQL critic, then a Gaussian policy by AWR."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from genrl.algorithms.gmpo import ADVANTAGE_NORMALIZATIONS
from genrl.algorithms.policy_updates import PolicyUpdates
from genrl.critics import IQLCritic
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models.gaussian import GaussianPolicy
from genrl.training.phases import Metrics, Phase, Stateful

LR_SCHEDULES = ("cosine", "constant")


class IQL(PolicyUpdates, Stateful):
    """Phases: the IQL critic (shared with GMPO/GMPG), then the Gaussian actor by advantage-weighted regression,

        L(θ) = −(1/B)·Σ_i min(exp(β·A(s_i, a_i)), W_max)·log π_θ(a_i | s_i),   A = min(Q̄1, Q̄2)(s, a) − V(s),

    with Q̄ the critic's target networks, as in the official implementation's actor update. Published
    locomotion values: expectile 0.7, β = 3, W_max = 100, Adam 3·10⁻⁴ with the actor's learning rate
    cosine-decayed to 0 over the policy phase (``lr_schedule="cosine"``).

    The official implementation updates V, the actor and Q in one joint step for 1M steps; genrl keeps its
    phase structure: the critic is trained to completion first and frozen, then the actor is extracted from
    it (the critic never depends on the actor in IQL, so only the order of the updates differs).
    """

    policy: GaussianPolicy

    def __init__(
        self,
        make_model: Callable[[], GaussianPolicy],
        critic: IQLCritic,
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: float = 3.0,
        max_weight: float = 100.0,
        epochs: float = 256,
        batch_size: int = 256,
        advantage_normalization: str = "none",
        lr_schedule: str = "cosine",
        ema_decay: float | None = None,
    ) -> None:
        check_choice("algorithm.advantage_normalization", advantage_normalization, ADVANTAGE_NORMALIZATIONS)
        check_choice("algorithm.lr_schedule", lr_schedule, LR_SCHEDULES)
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.beta, self.max_weight = beta, max_weight
        self.epochs, self.batch_size = epochs, batch_size
        self.advantage_normalization, self.lr_schedule = advantage_normalization, lr_schedule
        self.decay_steps: int | None = None  # the policy phase's length, once the budget is known
        # the actor's learning rate: base · factor(k) at actor step k (its clock is saved with the state)
        self.scheduler = LambdaLR(self.optimizer, lambda step: self.cosine_factor(step))

    def phases(self) -> list[Phase]:
        policy = Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy, evaluate=True)
        return [self.critic.phase(), policy]

    def set_phase_steps(self, steps: dict[str, int]) -> None:
        """The budget's phase lengths: the cosine schedule decays the actor's lr to 0 over the policy phase."""
        if self.lr_schedule == "cosine":
            self.decay_steps = int(steps["policy"])

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy, self.critic.q, self.critic.v, self.critic.q_target]

    def start_policy(self, data: Transitions) -> None:
        """Measure σ_A of the frozen critic (``advantage_normalization="std"``, softmax candidate selection)."""
        self.critic.fit_advantage_scale(data)

    @torch.no_grad()
    def weights(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """(w, β·A/σ): w = min(exp(β·A/σ), W_max), A from the target Q̄ and V, σ = σ_A or 1."""
        advantage = self.critic.q_target.min_q(obs, action) - self.critic.v(obs)
        scale = self.critic.advantage_scale if self.advantage_normalization == "std" else 1.0
        beta_adv = self.beta * advantage / scale
        return torch.exp(beta_adv.clamp(max=math.log(self.max_weight))), beta_adv

    def cosine_factor(self, step: int) -> float:
        """½(1 + cos(π·k/T)) at actor step k of T (optax's cosine_decay_schedule); 1 without a schedule."""
        if self.decay_steps is None or self.decay_steps <= 0:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))

    @property
    def policy_updates(self) -> int:
        """Actor steps taken."""
        return self.scheduler.last_epoch

    def learning_rate_factor(self) -> float:
        """The factor of the learning rate for the next actor step."""
        return self.cosine_factor(self.policy_updates)

    def update(self, batch: Batch) -> Metrics:
        weight, beta_adv = self.weights(batch.obs, batch.action)
        log_prob = self.policy.log_prob(batch.action, batch.obs)
        loss = -(weight * log_prob).mean()
        lr = self.optimizer.param_groups[0]["lr"]
        self.policy_step(loss)
        self.scheduler.step()
        return {
            "loss": loss.detach(),
            "log_prob": log_prob.detach().mean(),
            "weight_mean": weight.mean(),
            "clamped_fraction": (beta_adv > math.log(self.max_weight)).float().mean(),
            "std_mean": self.policy.std.detach().mean(),
            "lr": lr,
        }

    def stateful_members(self) -> dict[str, Any]:
        return {**super().stateful_members(), "lr_scheduler": self.scheduler}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "lr_scheduler" not in state:  # saved before the schedule was torch's: it kept the step count only
            clock = {**self.scheduler.state_dict(), "last_epoch": int(state.get("policy_updates", 0))}
            state = {**state, "lr_scheduler": clock}
        super().load_state_dict(state)
