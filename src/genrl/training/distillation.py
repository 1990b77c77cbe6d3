"""Fitting a one-step policy μ(s, z) to a teacher that maps noise to an action (``genrl-distill``): minibatches of
(state, z, Φ(z; s)), either solved once for a fixed set of pairs (:func:`draw_pairs`) or afresh for every minibatch
(:func:`fresh_batches`), Adam on the matching loss, and the fit's loss on pairs it never saw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

from genrl.models.one_step import OneStepPolicy, matching_loss

FRESH_PAIRS = 16384  # held-out pairs for fresh_loss
TEACHER_CHUNK = 4096  # states per batched teacher solve

Teacher = Callable[[Tensor, Tensor], Tensor]  # (obs, z) → Φ(z; obs), no gradient needed
TeacherBatch = tuple[Tensor, Tensor, Tensor]  # (obs, z, Φ(z; obs))


@dataclass(frozen=True)
class TeacherPairs:
    """Teacher solves drawn once: dataset state indices, their noises z ~ N(0, I) and Φ(z; s)."""

    index: Tensor
    noise: Tensor
    target: Tensor

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """A uniform minibatch (with replacement) of the pairs: their state indices, z and Φ(z; s)."""
        pick = torch.randint(0, self.index.shape[0], (batch_size,), device=self.index.device)
        return self.index[pick], self.noise[pick], self.target[pick]

    def batches(self, obs: Tensor, batch_size: int) -> Callable[[], TeacherBatch]:
        """Uniform minibatches (with replacement) of the pairs, as (state, z, Φ(z; s))."""

        def batch() -> TeacherBatch:
            index, noise, target = self.sample(batch_size)
            return obs[index], noise, target

        return batch


def draw_pairs(
    teacher: Teacher,
    obs: Tensor,
    action_dim: int,
    count: int,
    chunk: int = TEACHER_CHUNK,
    generator: torch.Generator | None = None,
) -> TeacherPairs:
    """``count`` states drawn uniformly from ``obs``, one z ~ N(0, I) each, and the teacher's action, solved in
    chunks (a batched solve costs less per state than one of the student's minibatches); from ``generator`` when
    given (the same pairs again from its seed), else from torch's global generator."""
    index = torch.randint(0, obs.shape[0], (count,), device=obs.device, generator=generator)
    noise = torch.randn(count, action_dim, device=obs.device, dtype=obs.dtype, generator=generator)
    with torch.no_grad():
        target = torch.cat([teacher(obs[part], z) for part, z in zip(index.split(chunk), noise.split(chunk))])
    return TeacherPairs(index, noise, target)


def fresh_batches(teacher: Teacher, obs: Tensor, action_dim: int, batch_size: int) -> Callable[[], TeacherBatch]:
    """Minibatches with a new teacher solve each: states drawn from ``obs``, z ~ N(0, I)."""

    def batch() -> TeacherBatch:
        states = obs[torch.randint(0, obs.shape[0], (batch_size,), device=obs.device)]
        noise = torch.randn(batch_size, action_dim, device=obs.device, dtype=obs.dtype)
        with torch.no_grad():
            return states, noise, teacher(states, noise)

    return batch


def fit_student(student: OneStepPolicy, batches: Callable[[], TeacherBatch], steps: int, lr: float) -> list[Tensor]:
    """Adam on :func:`~genrl.models.one_step.matching_loss` over ``steps`` minibatches; the per-step losses."""
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = matching_loss(student, *batches())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return losses


def fresh_loss(student: OneStepPolicy, teacher: Teacher, obs: Tensor, count: int = FRESH_PAIRS) -> float:
    """The matching loss on ``count`` new (state, z) pairs: the fit's error where it did not train."""
    pairs = draw_pairs(teacher, obs, student.action_dim, count)
    with torch.no_grad():
        return matching_loss(student, obs[pairs.index], pairs.noise, pairs.target).item()


def loss_curve(losses: list[Tensor], points: int = 20) -> list[list[float]]:
    """[[step, mean loss over the block of steps ending there], ...] in ``points`` equal blocks: whether the fit had
    converged."""
    if not losses:
        return []
    values = torch.stack(losses).double()
    edges = torch.linspace(0, len(values), min(points, len(values)) + 1).round().long().tolist()
    return [[end, values[start:end].mean().item()] for start, end in pairwise(edges)]
