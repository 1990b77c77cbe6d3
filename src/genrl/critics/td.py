"""A double-Q critic with target networks trained by TD on a target policy's actions (Diffusion-QL's critic)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genrl.data.transitions import Batch
from genrl.networks import DoubleQ
from genrl.ranges import Positive, Rate
from genrl.training.phases import Metrics, Stateful


class TDCritic(Stateful):
    """Twin Q and target Q̄; one step on (s, a, r, s', d) with a' from the algorithm's target policy:

        y = r + γ(1 − d)·min(Q̄1, Q̄2)(s', a'),   L_Q = MSE(Q1(s, a), y) + MSE(Q2(s, a), y),   Q̄ ← ρ·Q + (1 − ρ)·Q̄,

    the gradient clipped to norm ``grad_norm`` (None: not clipped). It has no phase of its own: the algorithm calls
    :meth:`update` with its policy's next actions and :meth:`update_target` after its own step. Candidates are scored
    by min(Q̄1, Q̄2) in Q's own units (``advantage_scale`` stays 1: the paper's softmax over Q).
    """

    #: Constructor arguments that are networks, built by the composition root with the dims they take.
    networks = ("q_net",)
    #: Keys of the ``critic`` node it has no use for (a budget sizes IQL's ``v_net`` for every critic).
    unused_keys = ("v_net",)

    def __init__(
        self,
        q_net: DoubleQ,
        optimizer: Callable[..., torch.optim.Optimizer],
        discount: Rate = 0.99,
        polyak: Rate = 0.005,
        grad_norm: Positive | None = 1.0,
    ) -> None:
        self.q = q_net
        self.q_target = copy.deepcopy(q_net).requires_grad_(False)
        self.optimizer = optimizer(self.q.parameters())
        self.discount, self.polyak, self.grad_norm = discount, polyak, grad_norm
        self.advantage_scale = 1.0

    def update(self, batch: Batch, next_action: Tensor) -> Metrics:
        with torch.no_grad():
            y = batch.reward + self.discount * (1.0 - batch.done) * self.q_target.min_q(batch.next_obs, next_action)
        q1, q2 = self.q(batch.obs, batch.action)
        loss = (q1 - y).pow(2).mean() + (q2 - y).pow(2).mean()
        clipped_step(self.optimizer, loss, self.q, self.grad_norm)
        return {"q_loss": loss.detach(), "target_q_mean": y.mean()}

    @torch.no_grad()
    def update_target(self) -> None:
        for target, online in zip(self.q_target.parameters(), self.q.parameters()):
            target.lerp_(online, self.polyak)

    @torch.no_grad()
    def score(self, obs: Tensor, action: Tensor) -> Tensor:
        """What candidate actions are selected by: min(Q̄1, Q̄2)(s, a) of the target twins (as the paper)."""
        return self.q_target.min_q(obs, action)

    def stateful_members(self) -> dict[str, Any]:
        return {"q": self.q, "q_target": self.q_target, "optimizer": self.optimizer}


def clipped_step(optimizer: torch.optim.Optimizer, loss: Tensor, module: nn.Module, grad_norm: float | None) -> None:
    """zero_grad, backward, the gradient of ``module`` clipped to ``grad_norm`` (None: not), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_norm is not None:
        nn.utils.clip_grad_norm_(module.parameters(), grad_norm)
    optimizer.step()
