"""What an algorithm declares to the composition root (genrl/building.py), which builds from the declaration.

An algorithm is a :class:`~genrl.training.phases.Stateful` with a constructor taking ``make_model`` (a fresh
policy model per call) and ``critic`` (what the ``critic=`` option built, or None for ``critic=none``), plus its
own options from ``conf/algorithm/<name>.yaml``. It declares, as class attributes and class methods:

* its policy: the generative model of ``net``, ``model`` and ``path`` (``policy_key = None``) or its own
  model built from ``algorithm.<policy_key>`` (IQL's Gaussian), with the generative model as well when it
  declares ``behaviour_model`` (SRPO's frozen behaviour model);
* the critics it can learn from (``critics``: names of ``critic=`` options; ``"none"`` if it needs none);
* its phases (:meth:`phases`) and the weights that act (:attr:`acting_policy`);
* how an action is drawn from those weights (:meth:`make_sampler`) and what K candidates are selected by
  (:meth:`candidate_scorer`); normalisation, K and the selection rule are the run's ``sampling.*``, applied by
  :class:`genrl.acting.policy.ActingPolicy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from torch import Tensor, nn

from genrl.training.acceleration import make_policy_sampler
from genrl.training.phases import Phase, Stateful

NO_CRITIC = "none"  # ``critic=none``
#: What only a generative policy uses: ignored by an algorithm with its own policy.
SAMPLER_KEYS = ("sampling.steps", "sampling.method")  # how the generative policy's ODE sample is drawn
GENERATIVE_KEYS = ("path", "net", "model", *SAMPLER_KEYS)


class Algorithm(Stateful):
    """The declarations the composition root reads (defaults: a generative policy learning from the IQL critic)."""

    #: ``None``: the policy is the generative model (``net`` + ``model`` + ``path``); else the key of the
    #: algorithm's own policy node (``algorithm.policy``), built with the obs/action dims and the action box.
    policy_key: ClassVar[str | None] = None
    #: True: beside its own policy (``policy_key``), the constructor takes ``make_behaviour``, a factory of the run's
    #: generative model (``net`` + ``model`` + ``path``), e.g. a frozen behaviour model the policy is regularised to.
    behaviour_model: ClassVar[bool] = False
    #: The ``critic=`` options this algorithm can learn from; ``"none"`` among them: it can run without one.
    critics: ClassVar[tuple[str, ...]] = ("iql",)
    critic: Any

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    @property
    def acting_policy(self) -> nn.Module:
        """The weights that act (evaluation, deployment)."""
        raise NotImplementedError

    def compilable_modules(self) -> list[nn.Module]:
        """Networks ``fast.compile`` may compile (each differentiated once per step)."""
        return []

    def set_phase_steps(self, steps: dict[str, int]) -> None:
        """The budget's length of each phase, once known (for schedules over a phase; default: unused)."""

    @classmethod
    def unused_keys(cls) -> tuple[str, ...]:
        """Config keys that do not affect this algorithm's runs (the generative model's, with its own policy; only
        its sampler's when a generative behaviour model is trained beside it)."""
        if cls.policy_key is None:
            return ()
        return SAMPLER_KEYS if cls.behaviour_model else GENERATIVE_KEYS

    @classmethod
    def candidate_scorer(
        cls, critic: Any, sampling: Mapping[str, Any]
    ) -> tuple[Callable[[Tensor, Tensor], Tensor], float]:
        """(score(s, a), unit) by which ``sampling.candidates`` K > 1 are selected (``sampling.selection``): the
        critic's min(Q1, Q2), in units of its advantage scale (softmax temperatures are then dimensionless)."""
        return critic.score, critic.advantage_scale

    @classmethod
    def make_sampler(
        cls, policy: nn.Module, sampling: Mapping[str, Any], fused: bool = False, compile_mode: str | None = None
    ) -> Callable[[Tensor], Tensor]:
        """obs → one action per state from the acting weights: the generative model's ODE sample with
        ``sampling.steps``, ``method``, ``noise_scale`` (``fused``: one unrolled loop, compiled if ``compile_mode``)."""
        return make_policy_sampler(
            policy, sampling["steps"], sampling["method"], fused, compile_mode, sampling["noise_scale"]
        )

    @classmethod
    def make_noise_sampler(
        cls, policy: nn.Module, sampling: Mapping[str, Any]
    ) -> Callable[[Tensor, Tensor], Tensor] | None:
        """(obs, z) → one action per state, deterministic given z ~ N(0, I) of the action's shape, drawn as
        :meth:`make_sampler` draws (``make_sampler``'s action is this at fresh z): what one-step distillation matches
        and what an exported policy runs. The generative model: the ODE solution from x_0 = τ·z with genrl's Euler loop
        (``sampling.method=euler``; None for other solvers); None where the policy is not driven by such noise."""
        if cls.policy_key is not None or sampling["method"] != "euler":
            return None
        steps, scale = sampling["steps"], sampling["noise_scale"]
        return lambda obs, noise: policy.sample(obs, steps=steps, x_0=scale * noise, fused=True)

