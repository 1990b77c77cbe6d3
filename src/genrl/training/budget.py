"""How long each phase runs and when the policy is evaluated."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from genrl.training.phases import Phase


@dataclass(frozen=True)
class Budget:
    """Phase length = ceil(N / B) · epochs · ``fraction`` gradient steps (an epoch is a pass over N transitions).

    ``steps`` replaces that by a fixed count for every phase and ``phase_steps`` for the named phases
    (``{"critic": 40000}``); ``max_batch_size`` caps batch sizes; ``evaluations`` periodic evaluations are spread
    evenly over each evaluating phase, the last one at its end.
    """

    fraction: float = 1.0
    steps: int | None = None
    evaluations: int = 100
    max_batch_size: int | None = None
    phase_steps: dict[str, int | None] = field(default_factory=dict)

    def batch_size(self, phase: Phase) -> int:
        return min(phase.batch_size, self.max_batch_size or phase.batch_size)

    def steps_of(self, phase: Phase, dataset_size: int) -> int:
        if self.phase_steps.get(phase.name) is not None:
            return int(self.phase_steps[phase.name])
        if self.steps is not None:
            return self.steps
        per_epoch = math.ceil(dataset_size / self.batch_size(phase))
        return max(1, round(per_epoch * phase.epochs * self.fraction))

    def evaluation_steps(self, total: int) -> set[int]:
        """Steps (1-based counts of finished updates) after which to evaluate; always includes ``total``."""
        count = max(1, min(self.evaluations, total))
        return {round(total * k / count) for k in range(1, count + 1)}
