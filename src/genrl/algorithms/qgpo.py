"""QGPO (Lu et al., ICML 2023): a generative behaviour model, a Q learned in its support, an intermediate energy
E_t(s, x_t) trained by contrastive energy prediction, and sampling guided by the energy's gradient."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim import Optimizer

from genrl.algorithms.base import Algorithm
from genrl.algorithms.policy_updates import BehaviourModel, support_actions
from genrl.critics.insupport import InSupportCritic
from genrl.data.transitions import Batch, Transitions
from genrl.errors import check_choice
from genrl.models.guided import GuidedPolicy
from genrl.ranges import Count, NonNegative, Positive
from genrl.training.phases import Metrics, Phase

Q_NORMALIZATIONS = ("none", "support_std")


class QGPO(BehaviourModel, Algorithm):
    """Phases: behaviour cloning of μ (the run's generative model and path), the in-support critic
    (``critic=insupport``, backups over K actions of μ at s'), then the energy E_φ by contrastive energy prediction
    over K = ``support_actions`` actions a_k ~ μ(·|s), one t ~ U(t̃_min, t_max) and ε_k ~ N(0, I) per state:

        L(φ) = −E_s Σ_k softmax_k(β·Q̄(s, a_k))·log softmax_k(E_φ(t, x_t^k, s)),   x_t^k = m_t·a_k + s_t·ε_k,

    whose optimum is E_t(s, x) = log E_{μ(a | x_t = x, s)}[exp(β·Q̄(s, a))] + const(s, t). β is in Q's units
    (``q_normalization="none"``, the paper's) or in units of σ_Q = sqrt(mean_s var_k Q̄(s, a_k)), Q̄'s spread over μ's
    support within a state, measured once as the energy phase starts (``"support_std"``: the targets are then the
    same at any reward scale). Acting integrates the
    guided velocity v_μ + w·c_t·∇_x E_φ (:class:`genrl.models.guided.GuidedPolicy`, ``algorithm.policy``, with the
    guidance scale w = ``policy.guidance_scale``); ``sampling.candidates`` K > 1 then selects by Q̄ as elsewhere.
    """

    state_scalars = ("q_scale",)
    policy_key = "policy"  # the guided policy: μ (the run's generative model) + the energy network
    critics = ("insupport",)
    policy: GuidedPolicy

    def __init__(
        self,
        make_model: Callable[[], GuidedPolicy],
        critic: InSupportCritic,
        behaviour_optimizer: Callable[..., Optimizer],
        optimizer: Callable[..., Optimizer],
        beta: NonNegative,
        behaviour_epochs: Positive,
        epochs: Positive,
        behaviour_batch_size: Count = 4096,
        batch_size: Count = 256,
        support_actions: Count = 16,
        support_steps: Count = 5,
        q_normalization: str = "none",
    ) -> None:
        check_choice("algorithm.q_normalization", q_normalization, Q_NORMALIZATIONS)
        self.policy, self.critic = make_model(), critic
        self.init_behaviour(self.policy.behaviour, behaviour_optimizer, behaviour_epochs, behaviour_batch_size)
        self.optimizer = optimizer(self.policy.energy.parameters())
        self.beta, self.support_actions, self.support_steps = beta, support_actions, support_steps
        self.epochs, self.batch_size = epochs, batch_size
        self.q_normalization, self.q_scale = q_normalization, 1.0

    @classmethod
    def unused_keys(cls) -> tuple[str, ...]:
        """None: μ is the run's generative model, and acting integrates its (guided) ODE with ``sampling.*``."""
        return ()

    @property
    def acting_policy(self) -> GuidedPolicy:
        return self.policy

    def phases(self) -> list[Phase]:
        critic = self.critic
        return [
            self.behaviour_phase(),
            Phase("critic", critic.epochs, critic.batch_size, self.update_critic),
            Phase("policy", self.epochs, self.batch_size, self.update_energy, on_start=self.fit_q_scale, evaluate=True),
        ]

    def compilable_modules(self) -> list[nn.Module]:
        return [self.behaviour.net, self.critic.q, self.critic.q_target]

    @classmethod
    def make_sampler(
        cls, policy: GuidedPolicy, sampling: Mapping[str, Any], fused: bool = False, compile_mode=None
    ) -> Callable[[Tensor], Tensor]:
        """The guided ODE with ``sampling.steps``, ``method``, ``noise_scale`` (no fused loop: the energy's gradient
        is taken at every step)."""
        return policy.sampler(sampling["steps"], sampling["method"], sampling["noise_scale"])

    def update_critic(self, batch: Batch) -> Metrics:
        next_actions = support_actions(self.behaviour, batch.next_obs, self.critic.support_actions, self.support_steps)
        return self.critic.update(batch, next_actions)

    @torch.no_grad()
    def support_q(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """K = ``support_actions`` actions a_k of μ per state (B, K, A) and their Q̄(s, a_k) (B, K)."""
        actions = support_actions(self.behaviour, obs, self.support_actions, self.support_steps)
        batch_size, k = actions.shape[:2]
        q = self.critic.score(obs.repeat_interleave(k, dim=0), actions.reshape(batch_size * k, -1))
        return actions, q.view(batch_size, k)

    def fit_q_scale(self, data: Transitions, states: int = 4096) -> None:
        """σ_Q on up to ``states`` dataset states (``q_normalization="support_std"``; 1 for ``"none"``)."""
        if self.q_normalization == "none":
            return
        obs = data.obs[torch.randperm(len(data), device=data.device)[:states]]
        variance = torch.cat([self.support_q(chunk)[1].var(dim=1) for chunk in obs.split(self.batch_size)])
        scale = float(variance.mean().sqrt())
        if not scale > 0.0:
            raise ValueError("algorithm.q_normalization=support_std: Q̄ is constant over μ's support; no spread to "
                             "measure β in")  # fmt: skip
        self.q_scale = scale

    def energy_loss(self, obs: Tensor, actions: Tensor, q: Tensor) -> Tensor:
        """Contrastive energy prediction for support actions (B, K, A) with values q (B, K)."""
        batch, k, action_dim = actions.shape
        path, t_min = self.behaviour.path, self.policy.guidance_t_min
        t = t_min + (path.t_max - t_min) * torch.rand(batch, device=obs.device, dtype=obs.dtype)
        t = t.repeat_interleave(k)  # one t per state, shared by its K support actions
        a = actions.reshape(batch * k, action_dim)
        x_t = path.sample(torch.randn_like(a), a, t).x_t
        logits = self.policy.energy(t, x_t, obs.repeat_interleave(k, dim=0)).view(batch, k)
        target = torch.softmax(self.beta * q / self.q_scale, dim=1)
        return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()

    def update_energy(self, batch: Batch) -> Metrics:
        actions, q = self.support_q(batch.obs)
        loss = self.energy_loss(batch.obs, actions, q)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"energy_loss": loss.detach(), "support_q_mean": q.mean()}

    def stateful_members(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "behaviour_optimizer": self.behaviour_optimizer,
            "optimizer": self.optimizer,
            "critic": self.critic,
        }
