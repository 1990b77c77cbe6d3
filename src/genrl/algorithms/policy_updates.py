"""What BC, GMPO and IQL do to their policy: an optimiser step, then the EMA of the weights that act; the cosine
learning-rate decay of IQL's and SRPO's actors; the behaviour model μ that GMPG, SRPO, QGPO and FQL clone first."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from genrl.critics import IQLCritic
from genrl.data import Batch, Transitions
from genrl.models import GenerativeModel
from genrl.models.ema import ema_of
from genrl.training.phases import Metrics, Phase

LR_SCHEDULES = ("cosine", "constant")


def cosine_factor(step: int, total: int | None) -> float:
    """½(1 + cos(π·k/T)) at step k of T (optax's cosine_decay_schedule, torch's CosineAnnealingLR to 0); 1 when T
    is unknown or not positive."""
    if total is None or total <= 0:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def capped_weights(beta_adv: Tensor, max_weight: float) -> Tensor:
    """min(exp(β·A/σ), W_max), computed as exp(min(β·A/σ, log W_max)): no overflow (GMPO's, IQL's, FQL's weights)."""
    return torch.exp(beta_adv.clamp(max=math.log(max_weight)))


def clone_step(model: GenerativeModel, optimizer: Optimizer, batch: Batch, weight: Tensor | None = None) -> Metrics:
    """One behaviour-cloning step of a model with its own optimiser (a behaviour model μ): L(φ) = E[ℓ_φ(a | s)],
    or E[w·ℓ_φ(a | s)] with per-sample weights ``weight``."""
    per_sample = model.loss(batch.action, batch.obs)
    loss = per_sample.mean() if weight is None else (weight * per_sample).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": loss.detach()}


@torch.no_grad()
def support_actions(model: GenerativeModel, obs: Tensor, k: int, steps: int) -> Tensor:
    """K actions per state from a behaviour model (its ``steps``-step Euler sample, no graph): shape (B, K, A)."""
    return model.sample(obs, steps=steps, n_per_state=k)


class BehaviourModel:
    """Owns a behaviour model μ (``behaviour``) with its own ``behaviour_optimizer``, cloned on the data in a first
    phase of ``behaviour_epochs`` passes in batches of ``behaviour_batch_size`` (:meth:`behaviour_phase`)."""

    behaviour: GenerativeModel
    behaviour_optimizer: Optimizer
    behaviour_epochs: float
    behaviour_batch_size: int

    def init_behaviour(
        self, behaviour: GenerativeModel, optimizer: Callable[..., Optimizer], epochs: float, batch_size: int
    ) -> None:
        self.behaviour, self.behaviour_optimizer = behaviour, optimizer(behaviour.parameters())
        self.behaviour_epochs, self.behaviour_batch_size = epochs, batch_size

    def behaviour_phase(self) -> Phase:
        return Phase("behaviour", self.behaviour_epochs, self.behaviour_batch_size, self.update_behaviour)

    def update_behaviour(self, batch: Batch) -> Metrics:
        """L(φ) = E[ℓ_φ(a | s)], the path's generative loss on dataset actions."""
        return clone_step(self.behaviour, self.behaviour_optimizer, batch)

    def behaviour_members(self) -> dict[str, Any]:
        """The state-dict entries ``behaviour`` and ``behaviour_optimizer``."""
        return {"behaviour": self.behaviour, "behaviour_optimizer": self.behaviour_optimizer}


class DataActionBox:
    """The dataset's action range [min, max] per dimension (GMPG's ``clamp_actions``, Diffusion-QL's clipping):
    measured as the policy phase starts (:meth:`fit_action_box`), saved with the state as ``action_box``."""

    action_box: tuple[Tensor, Tensor] | None = None
    policy: Any

    def fit_action_box(self, data: Transitions) -> None:
        self.action_box = (data.action.min(0).values, data.action.max(0).values)

    def clamp_to_data(self, action: Tensor) -> Tensor:
        """``action`` clamped to the box (unchanged before it is measured); outside it the gradient is zero."""
        if self.action_box is None:
            return action
        low, high = self.action_box
        return torch.maximum(torch.minimum(action, high), low)

    def state_dict(self) -> dict[str, Any]:
        box = None if self.action_box is None else [b.cpu() for b in self.action_box]
        return {**super().state_dict(), "action_box": box}  # type: ignore[misc]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # type: ignore[misc]
        box = state.get("action_box")
        device = next(self.policy.parameters()).device
        self.action_box = None if box is None else (box[0].to(device), box[1].to(device))


class PolicyUpdates:
    """Owns ``policy``, its ``optimizer``, with ``ema_decay`` an exponential moving average ``ema``, and the
    ``critic`` the policy learns from (its state is saved with the policy's)."""

    policy: GenerativeModel
    optimizer: Optimizer
    ema: AveragedModel | None
    critic: IQLCritic | None

    def init_policy(
        self, policy: GenerativeModel, optimizer, ema_decay: float | None, critic: IQLCritic | None
    ) -> None:
        self.policy, self.critic = policy, critic
        self.optimizer = optimizer(policy.parameters())
        self.ema = ema_of(policy, ema_decay) if ema_decay is not None else None

    @property
    def acting_policy(self) -> GenerativeModel:
        """The weights that act (evaluation, deployment): the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.policy

    def policy_step(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.policy)

    def clone_behaviour(self, batch: Batch) -> Metrics:
        """One behaviour-cloning step: L(θ) = E[ℓ_θ(a | s)], the unweighted generative loss."""
        loss = self.policy.loss(batch.action, batch.obs).mean()
        self.policy_step(loss)
        return {"loss": loss.detach()}

    def stateful_members(self) -> dict[str, Any]:
        ema = {} if self.ema is None else {"policy_ema": self.ema}
        critic = {} if self.critic is None else {"critic": self.critic}
        return {"policy": self.policy, "optimizer": self.optimizer, **ema, **critic}
