"""Generative behaviour cloning: the same model and path as GMPO/GMPG, every dataset action weighted alike."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genrl.algorithms.base import NO_CRITIC, Algorithm
from genrl.algorithms.policy_updates import PolicyUpdates
from genrl.critics import IQLCritic
from genrl.data.transitions import Transitions
from genrl.models import GenerativeModel
from genrl.ranges import Count, Decay, Positive
from genrl.training.phases import Phase


class BehaviourCloning(PolicyUpdates, Algorithm):
    """L(θ) = E_(s,a)~D[ℓ_θ(a | s)]: the baseline that tells what the critic adds.

    The IQL critic is trained first only when ``train_critic`` (candidate selection scores with it); it never
    touches the policy's loss. With ``critic=none`` there is none (one action per state).
    """

    critics = ("iql", NO_CRITIC)

    def __init__(
        self,
        make_model: Callable[[], GenerativeModel],
        critic: IQLCritic | None,
        optimizer: Callable[..., torch.optim.Optimizer],
        epochs: Positive,
        batch_size: Count = 4096,
        train_critic: bool = False,
        ema_decay: Decay | None = None,
    ) -> None:
        if train_critic and critic is None:
            raise ValueError("train_critic=true needs a critic (critic=iql); with critic=none it acts with one action")
        self.init_policy(make_model(), optimizer, ema_decay, critic)
        self.train_critic = train_critic
        self.epochs, self.batch_size = epochs, batch_size

    def phases(self) -> list[Phase]:
        policy = Phase(
            "policy", self.epochs, self.batch_size, self.clone_behaviour, on_start=self.start_policy, evaluate=True
        )
        return [self.critic.phase(), policy] if self.train_critic else [policy]

    def start_policy(self, data: Transitions) -> None:
        """Measure the trained critic's advantage scale σ_A (softmax candidate selection uses it)."""
        if self.train_critic:
            self.critic.fit_advantage_scale(data)

    def compilable_modules(self) -> list[nn.Module]:
        critic = [] if self.critic is None else [self.critic.q, self.critic.v, self.critic.q_target]
        return [self.policy.net, *critic]
