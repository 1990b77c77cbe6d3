"""Implicit Q-learning critic shared by GMPO and GMPG (spec §4)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genrl.critics.advantage_scale import advantage_scale
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.networks import DoubleQ, ValueNet
from genrl.ranges import Count, Fraction, NonNegative, Rate
from genrl.training.phases import Phase, Stateful

V_TARGETS = ("updated", "pre_update")


def expectile_loss(u: Tensor, tau: float) -> Tensor:
    """|τ − 1{u < 0}|·u², elementwise: the asymmetric L2 loss whose minimiser is the τ-expectile."""
    return torch.abs(tau - (u < 0).to(u.dtype)) * u.pow(2)


class IQLCritic(Stateful):
    """Twin Q, target Q̄ and V trained by expectile regression (IQL).

    One step on (s, a, r, s', d):
      L_V = E[ |τ − 1{Q̄(s,a) − V(s) < 0}|·(Q̄(s,a) − V(s))² ],   Q̄ = min(Q̄1, Q̄2) from the target nets;
      y = r + γ(1 − d)·V(s');   L_Q = ½[MSE(Q1(s,a), y) + MSE(Q2(s,a), y)];   Q̄ ← ρ·Q + (1 − ρ)·Q̄.

    ``v_target="updated"`` bootstraps y from V after this step's V update, as the official IQL does;
    ``"pre_update"`` reproduces the reference, which uses V from before the update (spec §4).
    """

    state_scalars = ("advantage_scale",)
    #: Constructor arguments that are networks, built by the composition root with the dims they take.
    networks = ("q_net", "v_net")

    def __init__(
        self,
        q_net: DoubleQ,
        v_net: ValueNet,
        optimizer: Callable[..., torch.optim.Optimizer],
        epochs: NonNegative,
        batch_size: Count = 4096,
        expectile: Fraction = 0.7,
        discount: Rate = 0.99,
        polyak: Rate = 0.005,
        v_target: str = "updated",
    ) -> None:
        check_choice("critic.v_target", v_target, V_TARGETS)
        self.q, self.v = q_net, v_net
        self.q_target = copy.deepcopy(q_net).requires_grad_(False)
        self.q_optimizer = optimizer(self.q.parameters())
        self.v_optimizer = optimizer(self.v.parameters())
        self.epochs, self.batch_size = epochs, batch_size
        self.expectile, self.discount, self.polyak, self.v_target = expectile, discount, polyak, v_target
        self.advantage_scale = 1.0  # the unit of A over the dataset, once measured (fit_advantage_scale)

    def phase(self) -> Phase:
        return Phase("critic", self.epochs, self.batch_size, self.update)

    def v_loss(self, batch: Batch) -> Tensor:
        with torch.no_grad():
            q_bar = self.q_target.min_q(batch.obs, batch.action)
        return expectile_loss(q_bar - self.v(batch.obs), self.expectile).mean()

    def q_loss(self, batch: Batch, v_next: Tensor) -> Tensor:
        y = batch.reward + self.discount * (1.0 - batch.done) * v_next
        q1, q2 = self.q(batch.obs, batch.action)
        return 0.5 * ((q1 - y).pow(2).mean() + (q2 - y).pow(2).mean())

    def update(self, batch: Batch) -> dict[str, Tensor]:
        if self.v_target == "pre_update":
            with torch.no_grad():
                v_next = self.v(batch.next_obs)
        v_loss = self.v_loss(batch)
        _step(self.v_optimizer, v_loss)
        if self.v_target == "updated":
            with torch.no_grad():
                v_next = self.v(batch.next_obs)
        q_loss = self.q_loss(batch, v_next)
        _step(self.q_optimizer, q_loss)
        self._update_target()
        return {"v_loss": v_loss.detach(), "q_loss": q_loss.detach(), "v_next_mean": v_next.mean()}

    @torch.no_grad()
    def _update_target(self) -> None:
        for target, online in zip(self.q_target.parameters(), self.q.parameters()):
            target.lerp_(online, self.polyak)

    @torch.no_grad()
    def advantage(self, obs: Tensor, action: Tensor) -> Tensor:
        """A(s, a) = min(Q1, Q2)(s, a) − V(s) with the online Q (as the reference's policy phase uses)."""
        return self.q.min_q(obs, action) - self.v(obs)

    @torch.no_grad()
    def score(self, obs: Tensor, action: Tensor) -> Tensor:
        """What candidate actions are selected by: min(Q1, Q2)(s, a)."""
        return self.q.min_q(obs, action)

    @torch.no_grad()
    def fit_advantage_scale(
        self, data: Transitions, rule: str = "std", target_ess: float = 0.5, chunk: int = 65536
    ) -> float:
        """Measure the unit of A(s, a) over every transition of ``data`` and keep it: σ_A (``rule`` "std", and
        "none", whose weights do not use it but whose softmax selection does) or the temperature of effective
        sample fraction ``target_ess`` ("ess"; genrl/critics/advantage_scale.py).

        Dividing advantages (or Q) by it makes β dimensionless: multiplying every reward by c multiplies A
        and the unit by c and leaves β·A/unit unchanged.
        """
        adv = torch.cat([self.advantage(data.obs[i : i + chunk], data.action[i : i + chunk])
                         for i in range(0, len(data), chunk)]).double()  # fmt: skip
        try:
            self.advantage_scale = advantage_scale(adv, "std" if rule == "none" else rule, target_ess)
        except ValueError as err:
            raise ValueError(f"{data.source}: the critic's advantages: {err}") from None
        return self.advantage_scale

    def stateful_members(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "v": self.v,
            "q_target": self.q_target,
            "q_optimizer": self.q_optimizer,
            "v_optimizer": self.v_optimizer,
        }


def _step(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
