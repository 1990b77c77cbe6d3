"""GMPO: generative-model policy optimisation by advantage-weighted generative regression (spec §5)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genrl.critics import IQLCritic
from genrl.data.transitions import Batch
from genrl.models import GenerativeModel
from genrl.training.phases import Metrics, Phase, Stateful


class GMPO(Stateful):
    """Phases: IQL critic, then the policy trained from scratch on dataset actions, weighted by advantage.

    The critic is trained to completion first and is frozen afterwards; there is no behaviour phase.
    """

    def __init__(
        self,
        make_model: Callable[[], GenerativeModel],
        critic: IQLCritic,
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: float,
        max_weight: float,
        epochs: float,
        batch_size: int = 4096,
    ) -> None:
        self.policy = make_model()
        self.critic = critic
        self.optimizer = optimizer(self.policy.parameters())
        self.beta, self.max_weight = beta, max_weight
        self.epochs, self.batch_size = epochs, batch_size

    def phases(self) -> list[Phase]:
        return [self.critic.phase(), Phase("policy", self.epochs, self.batch_size, self.update, evaluate=True)]

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy.net, self.critic.q, self.critic.v, self.critic.q_target]

    def policy_loss(self, batch: Batch) -> tuple[Tensor, Metrics]:
        """L(θ) = (1/B)·Σ_i min(exp(β·A(s_i, a_i)), W_max)·ℓ_θ(a_i | s_i),  A = min(Q1, Q2) − V  (spec §5).

        min(exp(x), W) is computed as exp(min(x, log W)): the same value without overflow.
        """
        beta_adv = self.beta * self.critic.advantage(batch.obs, batch.action)
        weight = torch.exp(beta_adv.clamp(max=math.log(self.max_weight)))
        per_sample = self.policy.loss(batch.action, batch.obs)  # (B,)
        loss = (weight * per_sample).mean()
        metrics = {
            "loss": loss.detach(),
            "generative_loss": per_sample.detach().mean(),
            "weight_mean": weight.mean(),
            "clamped_fraction": (beta_adv > math.log(self.max_weight)).float().mean(),
            "advantage_mean": beta_adv.mean() / self.beta,
        }
        return loss, metrics

    def update(self, batch: Batch) -> Metrics:
        loss, metrics = self.policy_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return metrics

    def stateful_members(self) -> dict[str, Any]:
        return {"policy": self.policy, "optimizer": self.optimizer, "critic": self.critic}
