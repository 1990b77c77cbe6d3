"""Flow Q-learning (Park, Li, Levine, ICML 2025), on any genrl path: a multi-step generative behaviour policy, a
one-step noise-conditioned policy μ(s, z) distilled from it while maximising Q, and the TD double-Q critic on μ's
actions (or, ``critic=iql``, an in-sample critic and an advantage-weighted multi-step policy). Acting is one network
call per action."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import BehaviourModel, DataActionBox, capped_weights, clone_step
from genrl.critics import IQLCritic, TDCritic
from genrl.critics.advantage_scale import AdvantageUnit
from genrl.critics.td import clipped_step
from genrl.data.transitions import Batch, Transitions
from genrl.models import GenerativeModel
from genrl.models.ema import ema_of
from genrl.models.one_step import OneStepPolicy
from genrl.ranges import Count, Decay, NonNegative, Positive
from genrl.training.distillation import TeacherPairs, draw_pairs
from genrl.training.phases import Metrics, Phase, frozen

Q_SCALES = ("mean_abs", "action_spread")


def behaviour_variance(behaviour_action: Tensor, data_action: Tensor) -> Tensor:
    """σ_b²: the behaviour's per-dimension variance around the dataset's action at the same states, ½·mean (Φ − a)²
    (Φ and a are two draws of the behaviour at each state)."""
    return 0.5 * (behaviour_action - data_action).pow(2).mean()


def q_spread(q_behaviour: Tensor, q_data: Tensor) -> Tensor:
    """σ_Q: Q's spread over the behaviour's actions within a state, √(½·mean (Q(s, Φ) − Q(s, a))²), Q = ½(Q1 + Q2)."""
    return (0.5 * (q_behaviour - q_data).pow(2).mean()).sqrt()


class FQL(BehaviourModel, DataActionBox, Algorithm):
    """Phases: behaviour cloning of the multi-step policy μ_φ (the run's generative model and path), then, each step,
    the critic, the one-step policy and the target critic:

    * critic (``critic=td``): y = r + γ(1 − d)·min(Q̄1, Q̄2)(s', a'),  a' = μ_θ(s', z'),  z' ~ N(0, I);
    * one-step policy:  L(θ) = α·mean‖μ_θ(s, z) − Φ_φ(z; s)‖² − Q(s, μ_θ(s, z)) / mean|Q(s, μ_θ(s, z))|,

      Φ_φ(z; s) the ``flow_steps``-step Euler solution of μ_φ's ODE from the same noise z (genrl's solver, no
      gradient), Q = ½(Q1 + Q2) of the online twins, the denominator not differentiated (FQL's ``normalize_q_loss``:
      α is then a weight against a unit-scale Q term at any reward scale). Actions that Q and the distillation
      target see are clamped to the dataset's action box (the paper clips to [−1, 1]).

      ``q_scale="action_spread"`` divides by σ_Q instead, the spread of Q over the behaviour's actions at a state:
      σ_Q² = ½·mean (Q(s, Φ_φ(z; s)) − Q(s, a))² over the batch (a the dataset's action; two draws of the behaviour
      at the same state). mean|Q| carries Q's offset (every locomotion reward is positive), which can make the Q
      term hundreds of times weaker than the distillation on one body and not another; σ_Q is invariant to Q → cQ + b,
      so α is a penalty per unit of Q's own difference between actions.

      ``target_distance=ε`` makes α a dual variable instead of a constant: the distillation is held at
      ε·σ_b², σ_b² = ½·mean (Φ_φ(z; s) − a)² the behaviour's own per-dimension action variance at a state (the
      same two-draws estimate), by log α ← log α + η·log(distill / (ε·σ_b²)) after each step (η =
      ``alpha_rate``). How far the policy may move is then set in units of the data's action noise, whatever Q's
      scale and however sharply the critic's values change off the data.

    ``teacher_pairs=N`` solves Φ_φ once, as the policy phase starts, for N (state, z) pairs (states drawn from the
    dataset, z ~ N(0, I), from a seed kept in the state), and each step's distillation and Q term use a minibatch of
    them instead of a new solve (the solve is most of a step; ``genrl-distill --pairs``). The TD critic's step still
    uses the trainer's batch.

    ``critic=iql`` (not the paper's) learns Q in-sample, from the dataset's actions only (IQL's expectile backups,
    trained to completion in a phase of its own before the behaviour phase), so μ_θ's Q term is never bootstrapped
    from its own actions. With it, ``behaviour_beta=β > 0`` clones the multi-step policy by advantage-weighted
    regression (GMPO's objective): L(φ) = mean min(exp(β·A(s, a)/σ_A), W_max)·ℓ_φ(a | s), A = min(Q1, Q2) − V, σ_A
    its std over the dataset, W_max = ``behaviour_max_weight``; ``behaviour_ema_decay`` makes an exponential moving
    average of μ_φ the distillation target. β = 0 is the paper's plain cloning.

    Acting: a = μ_θ(s, z), z ~ N(0, τ²I) with τ = ``sampling.noise_scale``; one network call.
    """

    policy_key = "policy"  # the one-step policy μ_θ(s, z) (algorithm.policy); the generative model is μ_φ
    behaviour_model = True
    critics = ("td", "iql")
    policy: OneStepPolicy
    state_scalars = ("updates", "log_alpha_shift", "pairs_seed")

    def __init__(
        self,
        make_model: Callable[[], OneStepPolicy],
        make_behaviour: Callable[[], GenerativeModel],
        critic: TDCritic | IQLCritic,
        behaviour_optimizer: Callable[..., torch.optim.Optimizer],
        optimizer: Callable[..., torch.optim.Optimizer],
        alpha: NonNegative,
        behaviour_epochs: float,
        epochs: float,
        behaviour_batch_size: Count = 256,
        batch_size: Count = 256,
        flow_steps: Count = 10,
        normalize_q_loss: bool = True,
        grad_norm: float | None = None,
        q_scale: Literal["mean_abs", "action_spread"] = "mean_abs",
        target_distance: Positive | None = None,
        alpha_rate: Positive = 0.01,
        behaviour_beta: NonNegative = 0.0,
        behaviour_max_weight: Positive = 100.0,
        behaviour_ema_decay: Decay | None = None,
        teacher_pairs: Count | None = None,
    ) -> None:
        if grad_norm is not None and not grad_norm > 0:
            raise ValueError(f"algorithm.grad_norm must be > 0 or null, got {grad_norm}")
        if q_scale not in Q_SCALES:
            raise ValueError(f"algorithm.q_scale must be one of {', '.join(Q_SCALES)}, got {q_scale!r}")
        if behaviour_beta > 0 and not isinstance(critic, IQLCritic):
            raise ValueError(f"algorithm.behaviour_beta={behaviour_beta} weights the behaviour by the advantage of an "
                             "in-sample critic: expected critic=iql (or behaviour_beta=0)")  # fmt: skip
        self.init_behaviour(make_behaviour(), behaviour_optimizer, behaviour_epochs, behaviour_batch_size)
        self.behaviour_beta, self.behaviour_max_weight = behaviour_beta, behaviour_max_weight
        self.behaviour_ema = None if behaviour_ema_decay is None else ema_of(self.behaviour, behaviour_ema_decay)
        self.unit = AdvantageUnit("std")
        self.teacher_pairs, self.pairs_seed = teacher_pairs, -1
        self.pairs: TeacherPairs | None = None
        self.pair_data: Transitions | None = None
        self.policy, self.critic = make_model(), critic
        self.optimizer = optimizer(self.policy.parameters())
        self.alpha, self.flow_steps, self.grad_norm = alpha, flow_steps, grad_norm
        self.normalize_q_loss, self.q_scale = normalize_q_loss, q_scale
        self.target_distance, self.alpha_rate = target_distance, alpha_rate
        self.log_alpha_shift = 0.0  # the dual's learned log α − log ``alpha`` (0 without ``target_distance``)
        self.epochs, self.batch_size = epochs, batch_size
        self.updates = 0

    @property
    def acting_policy(self) -> OneStepPolicy:
        return self.policy

    @property
    def in_sample(self) -> bool:
        """Whether Q is learnt from the dataset's actions alone (``critic=iql``) rather than μ_θ's (``critic=td``)."""
        return isinstance(self.critic, IQLCritic)

    @property
    def teacher_model(self) -> GenerativeModel:
        """The multi-step policy that μ_θ distils: μ_φ, or its moving average under ``behaviour_ema_decay``."""
        return self.behaviour if self.behaviour_ema is None else self.behaviour_ema.module

    def phases(self) -> list[Phase]:
        policy = Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy, evaluate=True,
                       on_resume=self.resume_policy)  # fmt: skip
        if not self.in_sample:
            return [self.behaviour_phase(), policy]
        behaviour = Phase("behaviour", self.behaviour_epochs, self.behaviour_batch_size, self.update_behaviour,
                          on_start=self.start_behaviour)  # fmt: skip
        return [self.critic.phase(), behaviour, policy]

    def start_policy(self, data: Transitions) -> None:
        """Measure the action box; with ``teacher_pairs``, draw the pairs' seed and solve them."""
        self.fit_action_box(data)
        if self.teacher_pairs is not None:
            self.pairs_seed = int(torch.randint(0, 2**62, ()).item())
            self.resume_policy(data)

    def resume_policy(self, data: Transitions) -> None:
        """The teacher pairs again from their seed (the teacher is frozen in this phase: the same pairs)."""
        if self.teacher_pairs is not None:
            generator = torch.Generator(device=data.obs.device).manual_seed(self.pairs_seed)
            self.pairs = draw_pairs(self.teacher, data.obs, self.policy.action_dim, self.teacher_pairs,
                                    generator=generator)  # fmt: skip
            self.pair_data = data

    def start_behaviour(self, data: Transitions) -> None:
        """Measure σ_A of the now-frozen in-sample critic (the unit of ``behaviour_beta``)."""
        if self.behaviour_beta > 0:
            self.unit.fit(self.critic, data)

    def update_behaviour(self, batch: Batch) -> Metrics:
        """L(φ) = mean w·ℓ_φ(a | s): w = 1 (cloning), or min(exp(β·A/σ_A), W_max) under ``behaviour_beta``."""
        weight = None
        if self.behaviour_beta > 0:
            beta_adv = self.behaviour_beta * self.critic.advantage(batch.obs, batch.action) / self.unit.of(self.critic)
            weight = capped_weights(beta_adv, self.behaviour_max_weight)
        metrics = clone_step(self.behaviour, self.behaviour_optimizer, batch, weight)
        if self.behaviour_ema is not None:
            self.behaviour_ema.update_parameters(self.behaviour)
        return metrics

    def compilable_modules(self) -> list:
        return [self.behaviour.net, self.policy, self.critic.q, self.critic.q_target]

    @classmethod
    def make_sampler(
        cls, policy: OneStepPolicy, sampling: Mapping[str, Any], fused: bool = False, compile_mode=None
    ) -> Callable[[Tensor], Tensor]:
        """z ~ N(0, τ²I), a = μ(s, z): one forward call per state (``sampling.steps``/``method`` do not apply)."""
        return policy.sampler(sampling["noise_scale"])

    @classmethod
    def make_noise_sampler(cls, policy: OneStepPolicy, sampling: Mapping[str, Any]) -> Callable:
        """a = μ(s, τ·z) in the action box."""
        scale = sampling["noise_scale"]
        return lambda obs, noise: policy.act(obs, scale * noise)

    @classmethod
    def candidate_scorer(cls, critic: TDCritic, sampling: Mapping[str, Any]) -> tuple[Callable, float]:
        """min(Q̄1, Q̄2) in Q's own units (the TD critic has no advantage scale)."""
        return critic.score, 1.0

    def teacher(self, obs: Tensor, noise: Tensor) -> Tensor:
        """Φ_φ(z; s): the behaviour model's ``flow_steps``-step Euler solution from z, in the data's action box."""
        with torch.no_grad():
            return self.clamp_to_data(self.teacher_model.sample(obs, steps=self.flow_steps, x_0=noise, fused=True))

    def policy_loss(
        self, obs: Tensor, data_action: Tensor | None = None, pair: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Metrics]:
        """α·distillation − Q/scale; ``data_action`` (the batch's actions) is needed by ``q_scale="action_spread"``;
        ``pair`` = (z, Φ_φ(z; s)) solved beforehand (``teacher_pairs``), else z is drawn and Φ solved here."""
        if pair is None:
            noise = torch.randn(obs.shape[0], self.policy.action_dim, device=obs.device, dtype=obs.dtype)
            pair = noise, self.teacher(obs, noise)
        noise, target = pair
        action = self.policy(obs, noise)
        distill = (action - target).pow(2).mean()
        with frozen(self.critic.q):
            q1, q2 = self.critic.q(obs, self.clamp_to_data(action))
        q = 0.5 * (q1 + q2)
        scale = self.q_unit(obs, q, target, data_action) if self.normalize_q_loss else torch.ones((), device=q.device)
        q_term = -q.mean() / scale
        alpha = self.alpha * math.exp(self.log_alpha_shift)
        loss = alpha * distill + q_term
        metrics = {"loss": loss.detach(), "distill_loss": distill.detach(), "q_term": q_term.detach(),
                   "q_mean": q.mean().detach(), "q_scale": scale, "alpha": torch.tensor(alpha)}  # fmt: skip
        if self.target_distance is not None:
            if data_action is None:
                raise ValueError("target_distance needs the batch's actions (policy_loss(obs, data_action))")
            sigma_b2 = behaviour_variance(target, data_action).clamp_min(1e-12)
            metrics["distance"] = distill.detach() / sigma_b2  # the distillation in units of σ_b²
        return loss, metrics

    def step_alpha(self, distance: Tensor) -> None:
        """The dual step: log α grows while the distillation is above ε·σ_b², shrinks while below."""
        self.log_alpha_shift += self.alpha_rate * math.log(max(distance.item() / self.target_distance, 1e-12))

    def q_unit(self, obs: Tensor, q: Tensor, behaviour_action: Tensor, data_action: Tensor | None) -> Tensor:
        """The Q term's unit (not differentiated): mean|Q| (the paper's) or σ_Q, Q's spread over behaviour actions."""
        if self.q_scale == "mean_abs":
            return q.abs().mean().detach().clamp_min(1e-6)
        if data_action is None:
            raise ValueError("q_scale='action_spread' needs the batch's actions (policy_loss(obs, data_action))")
        with torch.no_grad():  # Φ: in the box
            q_behaviour, q_data = (0.5 * sum(self.critic.q(obs, a)) for a in (behaviour_action, data_action))
            return q_spread(q_behaviour, q_data).clamp_min(1e-6)

    def update(self, batch: Batch) -> Metrics:
        critic_metrics = {} if self.in_sample else self.update_td_critic(batch)
        if self.pairs is None:
            loss, metrics = self.policy_loss(batch.obs, batch.action)
        else:  # the batch's size, from the pairs: states, their data actions, z and Φ(z; s)
            index, noise, target = self.pairs.sample(batch.obs.shape[0])
            data = self.pair_data
            loss, metrics = self.policy_loss(data.obs[index], data.action[index], (noise, target))
        clipped_step(self.optimizer, loss, self.policy, self.grad_norm)
        if self.target_distance is not None:
            self.step_alpha(metrics["distance"])
        if not self.in_sample:
            self.critic.update_target()
        self.updates += 1
        return {**metrics, **critic_metrics}

    def update_td_critic(self, batch: Batch) -> Metrics:
        """The TD step on μ_θ's next actions: a' = μ_θ(s', z'), z' ~ N(0, I)."""
        with torch.no_grad():
            noise = torch.randn(batch.next_obs.shape[0], self.policy.action_dim, device=batch.next_obs.device)
            next_action = self.clamp_to_data(self.policy(batch.next_obs, noise))
        return self.critic.update(batch, next_action)

    def stateful_members(self) -> dict[str, Any]:
        ema = {} if self.behaviour_ema is None else {"behaviour_ema": self.behaviour_ema}
        return {
            **self.behaviour_members(),
            **ema,
            "policy": self.policy,
            "optimizer": self.optimizer,
            "critic": self.critic,
        }
