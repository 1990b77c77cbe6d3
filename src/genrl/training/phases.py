"""The trainer's contract with algorithms: a list of training phases, a deployable policy, a state dict."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor, nn

from genrl.data.transitions import Batch, Transitions
from genrl.models import GenerativeModel

Metrics = dict[str, Tensor | float]


@dataclass
class Phase:
    """One stage of training: ``epochs`` passes over the data in minibatches of ``batch_size``.

    ``update`` takes one gradient step and returns metrics. ``on_start(data)`` runs once, with the training
    transitions, when the phase is first entered (not when a run resumes inside it: what it computes must be
    part of the algorithm's state, or be rebuilt from that state by ``on_resume(data)``, which runs instead when a
    run resumes inside the phase). Periodic policy evaluation happens only in phases with ``evaluate=True``.
    """

    name: str
    epochs: float
    batch_size: int
    update: Callable[[Batch], Metrics]
    on_start: Callable[[Transitions], None] | None = None
    evaluate: bool = False
    on_resume: Callable[[Transitions], None] | None = None


class Algorithm(Protocol):
    """What the trainer needs; it never looks at an algorithm's name."""

    policy: GenerativeModel
    acting_policy: GenerativeModel  # the weights that act: the policy, or its moving average

    def phases(self) -> list[Phase]: ...

    def compilable_modules(self) -> list[nn.Module]:
        """Networks that torch.compile may wrap (never those that are differentiated twice)."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Stateful:
    """``state_dict``/``load_state_dict`` over the members that ``stateful_members()`` names, and the plain numbers
    that ``state_scalars`` names (a checkpoint without one leaves its current value)."""

    state_scalars: tuple[str, ...] = ()

    def stateful_members(self) -> dict[str, Any]:
        """Name → object with its own state_dict/load_state_dict (modules, optimizers, critics)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        members = {name: member.state_dict() for name, member in self.stateful_members().items()}
        return {**members, **{name: getattr(self, name) for name in self.state_scalars}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, member in self.stateful_members().items():
            member.load_state_dict(state[name])
        for name in self.state_scalars:
            current = getattr(self, name)
            setattr(self, name, type(current)(state.get(name, current)))


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Temporarily stop parameter gradients of ``modules`` (inputs still receive gradients through them)."""
    flags = [[p.requires_grad for p in m.parameters()] for m in modules]
    for m in modules:
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m, saved in zip(modules, flags):
            for p, flag in zip(m.parameters(), saved):
                p.requires_grad_(flag)
