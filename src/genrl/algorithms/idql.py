"""IDQL (Hansen-Estruch et al., 2023): the IQL critic, a generative behaviour model, and actions resampled from K
behaviour candidates with the weights of the critic's implicit policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import PolicyUpdates
from genrl.critics import IQLCritic
from genrl.models import GenerativeModel
from genrl.ranges import Count, Decay, Positive
from genrl.training.phases import Phase


class IDQL(PolicyUpdates, Algorithm):
    """Phases: the IQL critic (expectile τ), then behaviour cloning of the generative policy, L(θ) = E[ℓ_θ(a | s)].

    Acting draws K = ``sampling.candidates`` actions a_k from the behaviour policy and, with
    ``sampling.selection=softmax``, picks a_k with probability ∝ w_k^(1/T), T = ``sampling.temperature``:

        w(s, a) = |τ − 1{A(s, a) < 0}| / |A(s, a)|,   A = min(Q1, Q2)(s, a) − V(s)

    (T = 1 is the paper's resampling); ``selection=argmax`` takes the candidate of highest Q (its greedy variant).
    """

    def __init__(
        self, make_model: Callable[[], GenerativeModel], critic: IQLCritic, optimizer: Callable[..., Optimizer],
        epochs: Positive, batch_size: Count = 4096, ema_decay: Decay | None = None,
    ) -> None:  # fmt: skip
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.epochs, self.batch_size = epochs, batch_size

    def phases(self) -> list[Phase]:
        policy = Phase("policy", self.epochs, self.batch_size, self.clone_behaviour, evaluate=True)
        return [self.critic.phase(), policy]

    def compilable_modules(self) -> list[nn.Module]:
        return [self.policy.net, self.critic.q, self.critic.v, self.critic.q_target]

    @classmethod
    def candidate_scorer(cls, critic: IQLCritic, sampling: Mapping[str, Any]) -> tuple[Callable, float]:
        """argmax: Q; softmax: log w, so that softmax(log w / T) ∝ w^(1/T) (unit 1: T is the paper's exponent)."""
        if sampling["selection"] == "argmax":
            return critic.score, critic.advantage_scale

        def log_weight(obs: Tensor, action: Tensor) -> Tensor:
            advantage = critic.score(obs, action) - critic.v(obs)
            tau = torch.abs(critic.expectile - (advantage < 0).to(advantage.dtype))
            return tau.log() - advantage.abs().clamp_min(1e-12).log()

        return log_weight, 1.0
