"""SfBC (Chen et al., ICLR 2023): a generative behaviour model, a Q learned in its support, and actions selected from
K behaviour candidates with probability ∝ exp(Q/T)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn
from torch.optim import Optimizer

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import PolicyUpdates, support_actions
from genrl.critics.insupport import InSupportCritic
from genrl.data.transitions import Batch
from genrl.models import GenerativeModel
from genrl.ranges import Count, Decay, Positive
from genrl.training.phases import Metrics, Phase


class SfBC(PolicyUpdates, Algorithm):
    """Phases: behaviour cloning of μ (the run's generative model and path), L(θ) = E[ℓ_θ(a | s)]; then the
    in-support critic (``critic=insupport``), each step's backup over K = ``critic.support_actions`` actions drawn
    from μ(·|s') with ``support_steps`` Euler steps:

        y = r + γ(1 − d)·Σ_k softmax_k(α·Q̄(s', a'_k))·Q̄(s', a'_k).

    Acting: K = ``sampling.candidates`` actions a_k ~ μ(·|s), one drawn with probability ∝ exp(Q̄(s, a_k)/T),
    T = ``sampling.temperature`` in Q's units (``selection=softmax``; ``argmax`` takes the best). μ itself is never
    changed by Q: the policy is the behaviour model, reweighted at acting time.
    """

    critics = ("insupport",)

    def __init__(
        self, make_model: Callable[[], GenerativeModel], critic: InSupportCritic, optimizer: Callable[..., Optimizer],
        behaviour_epochs: Positive, batch_size: Count = 4096, support_steps: Count = 5, ema_decay: Decay | None = None,
    ) -> None:  # fmt: skip
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.behaviour_epochs, self.batch_size, self.support_steps = behaviour_epochs, batch_size, support_steps

    def phases(self) -> list[Phase]:
        critic = self.critic
        return [
            Phase("behaviour", self.behaviour_epochs, self.batch_size, self.clone_behaviour),
            Phase("critic", critic.epochs, critic.batch_size, self.update_critic, evaluate=True),
        ]

    def update_critic(self, batch: Batch) -> Metrics:
        """One in-support backup: a'_k ~ μ(·|s') (the acting weights), then the critic's TD step."""
        next_actions = support_actions(self.acting_policy, batch.next_obs, self.critic.support_actions,
                                       self.support_steps)  # fmt: skip
        return self.critic.update(batch, next_actions)

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy.net, self.critic.q, self.critic.q_target]

    @classmethod
    def candidate_scorer(cls, critic: InSupportCritic, sampling: Mapping[str, Any]) -> tuple[Callable, float]:
        """min(Q̄1, Q̄2) in Q's own units (unit 1): softmax(Q/T) = softmax(α·Q) with α = 1/T, the paper's rule."""
        return critic.score, 1.0
