"""GMPO: generative-model policy optimisation by advantage-weighted generative regression (spec §5)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import PolicyUpdates, capped_weights
from genrl.critics import IQLCritic
from genrl.critics.advantage_scale import AdvantageUnit
from genrl.data.transitions import Batch, Transitions
from genrl.models import GenerativeModel
from genrl.ranges import Count, Decay, Fraction, NonNegative, Positive
from genrl.training.phases import Metrics, Phase


class GMPO(PolicyUpdates, Algorithm):
    """Phases: IQL critic, [behaviour cloning of the policy], then advantage-weighted regression of the policy.

    The critic is trained to completion first and is frozen afterwards. Options beyond the reference (all off
    by default, which is the reference):

    * ``advantage_normalization="std"``: weights exp(β·A/σ_A) with σ_A the std of A over the dataset, so β
      is dimensionless and the weighting does not change when the rewards are rescaled;
    * ``advantage_normalization="ess"``: weights exp(β·A/T) with T the temperature at which exp(A/T) keeps the
      effective fraction ``target_ess`` of the data (genrl/critics/advantage_scale.py), also scale-free;
    * ``behaviour_epochs > 0``: a behaviour-cloning phase (unweighted loss) initialises the policy;
    * ``ema_decay``: an exponential moving average of the policy's weights is the copy that acts.
    """

    def __init__(
        self,
        make_model: Callable[[], GenerativeModel],
        critic: IQLCritic,
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: NonNegative,
        max_weight: Positive,
        epochs: Positive,
        batch_size: Count = 4096,
        advantage_normalization: str = "none",
        target_ess: Fraction = 0.5,
        behaviour_epochs: NonNegative = 0.0,
        ema_decay: Decay | None = None,
    ) -> None:
        self.unit = AdvantageUnit(advantage_normalization, target_ess)
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.beta, self.max_weight = beta, max_weight
        self.epochs, self.batch_size = epochs, batch_size
        self.behaviour_epochs = behaviour_epochs

    def phases(self) -> list[Phase]:
        phases = [self.critic.phase()]
        if self.behaviour_epochs > 0:
            phases.append(Phase("behaviour", self.behaviour_epochs, self.batch_size, self.clone_behaviour))
        phases.append(Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy,
                            evaluate=True))  # fmt: skip
        return phases

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy.net, self.critic.q, self.critic.v, self.critic.q_target]

    def start_policy(self, data: Transitions) -> None:
        """Measure the advantage scale σ_A of the now-frozen critic (weights, softmax candidate selection)."""
        self.unit.fit(self.critic, data)

    def weights(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """(w, β·A/σ): w = min(exp(β·A/σ), W_max), σ = σ_A or 1; computed as exp(min(x, log W)), no overflow."""
        beta_adv = self.beta * self.critic.advantage(obs, action) / self.unit.of(self.critic)
        return capped_weights(beta_adv, self.max_weight), beta_adv

    def policy_loss(self, batch: Batch) -> tuple[Tensor, Metrics]:
        """L(θ) = (1/B)·Σ_i min(exp(β·A(s_i, a_i)), W_max)·ℓ_θ(a_i | s_i),  A = min(Q1, Q2) − V  (spec §5)."""
        weight, beta_adv = self.weights(batch.obs, batch.action)
        per_sample = self.policy.loss(batch.action, batch.obs)  # (B,)
        loss = (weight * per_sample).mean()
        metrics = {
            "loss": loss.detach(),
            "generative_loss": per_sample.detach().mean(),
            "weight_mean": weight.mean(),
            "clamped_fraction": (beta_adv > math.log(self.max_weight)).float().mean(),
            "effective_sample_fraction": weight.sum() ** 2 / (weight.pow(2).sum() * weight.numel()),
        }
        return loss, metrics

    def update(self, batch: Batch) -> Metrics:
        loss, metrics = self.policy_loss(batch)
        self.policy_step(loss)
        return metrics
