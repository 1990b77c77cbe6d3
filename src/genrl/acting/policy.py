"""From an observation to an action: normalisation, K candidate actions, critic-guided selection.

One :class:`ActingPolicy` is what evaluation runs and what :class:`genrl.Agent` deploys, so both act alike.
With ``candidates=1`` it is the reference protocol: one ODE sample per state, no critic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genrl.data.normalization import ObservationNormalizer
from genrl.errors import check_choice

SELECTIONS = ("argmax", "softmax")
Sampler = Callable[[Tensor], Tensor]  # obs (B, S) -> actions (B, A)
Scorer = Callable[[Tensor, Tensor], Tensor]  # (obs (B, S), actions (B, A)) -> scores (B,)


def select_candidates(scores: Tensor, selection: str, temperature: float = 1.0) -> Tensor:
    """Index (B,) of the chosen candidate per row of ``scores`` (B, K).

    ``argmax`` takes the best-scored candidate; ``softmax`` draws index k with probability ∝ exp(score_k / T)
    (IDQL/SfBC-style resampling; T → 0 is argmax, T → ∞ the policy's own sample).
    """
    if selection == "argmax":
        return scores.argmax(dim=1)
    if selection == "softmax":
        return torch.multinomial(torch.softmax(scores / temperature, dim=1), 1).squeeze(1)
    raise ValueError(f"sampling.selection must be one of {SELECTIONS}, got {selection!r}")


@dataclass
class ActingPolicy:
    """obs (B, S) → actions (B, A).

    ``sample`` draws one action per (normalised) state from the policy (a generative model's ODE sample, or
    IQL's Gaussian: ``genrl.acting.loading.make_sampler``). With ``candidates`` K > 1,
    K actions are drawn per state in one batched call, clamped to the action box ``[low, high]`` (what the
    simulator executes), scored by ``score`` — min(Q1, Q2) of the critic — and one is selected per state.
    ``temperature`` of the softmax selection is in units of ``score_scale`` (the critic's dataset advantage
    std), so it does not depend on the reward scale.
    """

    sample: Sampler
    normalizer: ObservationNormalizer | None = None
    candidates: int = 1
    score: Scorer | None = None
    selection: str = "argmax"
    temperature: float = 1.0
    score_scale: float = 1.0
    low: Tensor | None = None
    high: Tensor | None = None

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"sampling.candidates must be >= 1, got {self.candidates}")
        if self.candidates > 1 and self.score is None:
            raise ValueError("sampling.candidates > 1 needs a critic to score the candidates")
        check_choice("sampling.selection", self.selection, SELECTIONS)
        if not self.temperature > 0:
            raise ValueError(f"sampling.temperature must be > 0, got {self.temperature}")

    def __call__(self, obs: Tensor) -> Tensor:
        if self.normalizer is not None:
            obs = self.normalizer(obs)
        if self.candidates == 1:
            return self.sample(obs)
        batch, k = obs.shape[0], self.candidates
        repeated = obs.repeat_interleave(k, dim=0)
        actions = self._clamp(self.sample(repeated))
        scores = self.score(repeated, actions).view(batch, k) / self.score_scale
        chosen = select_candidates(scores, self.selection, self.temperature)
        return actions.view(batch, k, -1)[torch.arange(batch, device=obs.device), chosen]

    def _clamp(self, actions: Tensor) -> Tensor:
        if self.low is None or self.high is None:
            return actions
        return torch.maximum(torch.minimum(actions, self.high.to(actions)), self.low.to(actions))
