"""A double-Q critic learned in support: TD backups over actions sampled from a generative behaviour model
(SfBC's and QGPO's critic, in its one-step in-support softmax form)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genrl.critics.td import TDCritic, clipped_step
from genrl.data.transitions import Batch
from genrl.networks import DoubleQ
from genrl.ranges import Count, NonNegative, Positive, Rate
from genrl.training.phases import Metrics


class InSupportCritic(TDCritic):
    """Twin Q and target Q̄, trained in its own phase (``epochs`` at ``batch_size``) after the behaviour model μ:

        y = r + γ(1 − d)·Σ_k softmax_k(α·Q̄(s', a'_k))·Q̄(s', a'_k),   a'_1..a'_K ~ μ(·|s'),   Q̄ = min(Q̄1, Q̄2),

    L_Q = MSE(Q1(s, a), y) + MSE(Q2(s, a), y), Q̄ ← ρ·Q + (1 − ρ)·Q̄. The backup never leaves the behaviour's
    support: α = 0 is the behaviour's value (SARSA on μ), α → ∞ the max over the K support actions. The algorithm
    draws the a'_k (``support_actions`` K of them) and calls :meth:`update`; candidates are scored by
    min(Q̄1, Q̄2) in Q's own units (``advantage_scale`` 1).
    """

    def __init__(
        self,
        q_net: DoubleQ,
        optimizer: Callable[..., torch.optim.Optimizer],
        epochs: Positive = 100.0,
        batch_size: Count = 256,
        support_actions: Count = 16,
        alpha: NonNegative = 1.0,
        discount: Rate = 0.99,
        polyak: Rate = 0.005,
        grad_norm: Positive | None = 1.0,
    ) -> None:
        super().__init__(q_net, optimizer, discount, polyak, grad_norm)
        self.epochs, self.batch_size, self.support_actions, self.alpha = epochs, batch_size, support_actions, alpha

    @torch.no_grad()
    def support_value(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Σ_k softmax_k(α·Q̄(s, a_k))·Q̄(s, a_k) for obs (B, S) and support actions (B, K, A): shape (B,)."""
        batch, k = actions.shape[:2]
        q = self.q_target.min_q(obs.repeat_interleave(k, dim=0), actions.reshape(batch * k, -1)).view(batch, k)
        return (torch.softmax(self.alpha * q, dim=1) * q).sum(1)

    def update(self, batch: Batch, next_actions: Tensor) -> Metrics:
        """One TD step with the in-support backup over ``next_actions`` (B, K, A) drawn from μ(·|s'); then Q̄."""
        y = batch.reward + self.discount * (1.0 - batch.done) * self.support_value(batch.next_obs, next_actions)
        q1, q2 = self.q(batch.obs, batch.action)
        loss = (q1 - y).pow(2).mean() + (q2 - y).pow(2).mean()
        clipped_step(self.optimizer, loss, self.q, self.grad_norm)
        self.update_target()
        return {"q_loss": loss.detach(), "target_q_mean": y.mean()}
