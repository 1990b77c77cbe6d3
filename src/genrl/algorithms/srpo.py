"""SRPO (Chen et al., ICLR 2024): a deterministic policy regularised towards a frozen generative behaviour model by
its score (score-distillation gradient), acting with one network call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import LR_SCHEDULES, BehaviourModel, cosine_factor
from genrl.critics import IQLCritic
from genrl.critics.advantage_scale import AdvantageUnit
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models import GenerativeModel
from genrl.models.deterministic import DeterministicPolicy
from genrl.ranges import Count, Fraction, NonNegative, Positive
from genrl.training.phases import Metrics, Phase

#: ω(t) of the regulariser's gradient, in the path's mean scale m_t and std s_t given the action (x_t = m_t·a + s_t·ε).
WEIGHTINGS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "vds": lambda m, s: s**2,  # the paper's default (the reference's WT="VDS")
    "score": lambda m, s: m / s,  # the exact gradient of ∫ KL(π_t ‖ μ_t) dt over the time range
    "stable": lambda m, s: torch.ones_like(s),
}


class SRPO(BehaviourModel, Algorithm):
    """Phases: behaviour cloning of μ (the run's generative model and path), the IQL critic, then π(s) by

        ∇_θ L = E_{s, t, ε}[ ω(t)·(ε̂_μ(x_t, t | s) − b·ε) − β·∇_a Q̄(s, a) / σ ]·∂a/∂θ,   a = π_θ(s),
        x_t = m_t·a + s_t·ε,   ε̂_μ = −s_t·∇_x log μ_t(x_t | s),   t ~ U(t_min, t_max),

    the gradient of L(θ) = E_s[ −β·Q̄(s, π_θ(s))/σ + KL-regulariser ], where the regulariser's gradient is the score
    distillation of μ: for a Dirac π, ∇_θ KL(π_t ‖ μ_t) = E_ε[(m_t/s_t)·(ε̂_μ − ε)]·∂a/∂θ, and E[ε·∂a/∂θ] = 0, so
    b = 0 (the reference's default) and b = 1 (``noise_baseline``, a control variate) have the same expectation.
    Q̄ = ½(Q̄1 + Q̄2), the critic's target twins, as the reference; σ = 1 or the advantage unit
    (``advantage_normalization``). The score comes from μ's network through the path (velocity → score for
    every path genrl has: :meth:`genrl.paths.ProbabilityPath.velocity_to_score`).

    π is a deterministic MLP with a tanh output in the action box (``algorithm.policy``): acting is one call.
    """

    policy_key = "policy"  # the deterministic policy (algorithm.policy); μ is the generative model
    behaviour_model = True
    policy: DeterministicPolicy
    state_scalars = ("policy_updates",)

    def __init__(
        self,
        make_model: Callable[[], DeterministicPolicy],
        make_behaviour: Callable[[], GenerativeModel],
        critic: IQLCritic,
        behaviour_optimizer: Callable[..., torch.optim.Optimizer],
        optimizer: Callable[..., torch.optim.Optimizer],
        beta: NonNegative,
        behaviour_epochs: NonNegative,
        epochs: Positive,
        behaviour_batch_size: Count = 4096,
        batch_size: Count = 256,
        weighting: str = "vds",
        t_min: Fraction = 0.02,
        t_max: Fraction = 0.98,
        noise_baseline: bool = False,
        lr_schedule: str = "cosine",
        advantage_normalization: str = "none",
        target_ess: Fraction = 0.5,
    ) -> None:
        check_choice("algorithm.weighting", weighting, tuple(WEIGHTINGS))
        check_choice("algorithm.lr_schedule", lr_schedule, LR_SCHEDULES)
        if not t_min < t_max:
            raise ValueError(f"algorithm.t_min={t_min}, algorithm.t_max={t_max}: expected t_min < t_max")
        self.unit = AdvantageUnit(advantage_normalization, target_ess)
        self.init_behaviour(make_behaviour(), behaviour_optimizer, behaviour_epochs, behaviour_batch_size)
        self.policy, self.critic = make_model(), critic
        self._check_score()
        self.optimizer = optimizer(self.policy.parameters())
        self.beta, self.weighting, self.t_min, self.t_max = beta, weighting, t_min, t_max
        self.noise_baseline, self.lr_schedule = noise_baseline, lr_schedule
        self.epochs, self.batch_size = epochs, batch_size
        self.base_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.decay_steps: int | None = None  # the policy phase's length, once the budget is known
        self.policy_updates = 0  # policy steps taken (the cosine schedule's clock)

    def _check_score(self) -> None:
        """Refuse, as the run is built, a path whose velocity has no score conversion (one line)."""
        device = self.policy.center.device
        try:
            with torch.no_grad():
                self.behaviour.score(torch.tensor(0.5), torch.zeros(1, self.policy.action_dim, device=device),
                                     torch.zeros(1, self.policy.obs_dim, device=device))  # fmt: skip
        except ValueError as err:
            raise ValueError(f"path: {err}; SRPO regularises with the behaviour model's score") from None

    @property
    def acting_policy(self) -> DeterministicPolicy:
        return self.policy

    def phases(self) -> list[Phase]:
        return [
            self.behaviour_phase(),
            self.critic.phase(),
            Phase("policy", self.epochs, self.batch_size, self.update, on_start=self.start_policy, evaluate=True),
        ]

    def set_phase_steps(self, steps: dict[str, int]) -> None:
        if self.lr_schedule == "cosine":
            self.decay_steps = int(steps["policy"])

    def compilable_modules(self) -> list[nn.Module]:
        return [self.behaviour.net, self.policy, self.critic.q, self.critic.v, self.critic.q_target]

    @classmethod
    def make_sampler(
        cls, policy: DeterministicPolicy, sampling: Mapping[str, Any], fused: bool = False, compile_mode=None
    ) -> Callable[[Tensor], Tensor]:
        """One forward call per state (no ODE; ``sampling.steps``/``method`` do not apply)."""
        return policy.sampler()

    @classmethod
    def make_noise_sampler(cls, policy: DeterministicPolicy, sampling: Mapping[str, Any]) -> Callable:
        """π(s): the noise is not used."""
        return lambda obs, noise: policy(obs)

    def start_policy(self, data: Transitions) -> None:
        """The advantage unit of the frozen critic (σ under ``advantage_normalization``; softmax selection)."""
        self.unit.fit(self.critic, data)

    def regulariser_direction(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """(ω(t)·(ε̂_μ − b·ε), ε̂_μ − ε) at x_t = m_t·a + s_t·ε for one t and ε per state (no graph)."""
        t = self.t_min + (self.t_max - self.t_min) * torch.rand(obs.shape[0], device=obs.device, dtype=obs.dtype)
        marginal = self.behaviour.path.marginal(t)
        m, s = marginal.mean_scale.unsqueeze(-1), marginal.std.unsqueeze(-1)
        noise = torch.randn_like(action)
        with torch.no_grad():
            eps_hat = -s * self.behaviour.score(t, m * action + s * noise, obs)
        baseline = noise if self.noise_baseline else 0.0
        return WEIGHTINGS[self.weighting](m, s) * (eps_hat - baseline), eps_hat - noise

    def q_gradient(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """(∇_a Q̄(s, a), Q̄(s, a)) with Q̄ = ½(Q̄1 + Q̄2), the critic's target twins."""
        action = action.detach().requires_grad_(True)
        with torch.enable_grad():
            q1, q2 = self.critic.q_target(obs, action)
            q = 0.5 * (q1 + q2)
            (grad,) = torch.autograd.grad(q.sum(), action)
        return grad, q.detach()

    def policy_loss(self, obs: Tensor) -> tuple[Tensor, Metrics]:
        """The surrogate whose gradient is SRPO's: mean(⟨ω·(ε̂ − b·ε) − β·∇_a Q̄/σ, π_θ(s)⟩), directions detached."""
        action = self.policy(obs)
        kl_direction, score_gap = self.regulariser_direction(obs, action.detach())
        q_grad, q = self.q_gradient(obs, action)
        direction = kl_direction - self.beta * q_grad / self.unit.of(self.critic)
        loss = (direction * action).sum(-1).mean()
        return loss, {
            "loss": loss.detach(),
            "q_mean": q.mean(),
            "score_gap": score_gap.pow(2).sum(-1).mean(),  # |ε̂ − ε|²: how far π's noised actions sit from μ's
            "q_grad_norm": q_grad.norm(dim=-1).mean(),
        }

    def update(self, batch: Batch) -> Metrics:
        loss, metrics = self.policy_loss(batch.obs)
        factor = cosine_factor(self.policy_updates, self.decay_steps)
        for group, lr in zip(self.optimizer.param_groups, self.base_lr):
            group["lr"] = lr * factor
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.policy_updates += 1
        return {**metrics, "lr": self.optimizer.param_groups[0]["lr"]}

    def stateful_members(self) -> dict[str, Any]:
        return {
            **self.behaviour_members(),
            "policy": self.policy,
            "optimizer": self.optimizer,
            "critic": self.critic,
        }
