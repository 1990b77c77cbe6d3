"""The one training loop: phases → minibatch steps → log / evaluate / checkpoint, resumable at any step."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from genrl.data.transitions import IndexSampler, Transitions
from genrl.seeding import restore_rng_state, rng_state
from genrl.training.budget import Budget
from genrl.training.checkpoint import load_checkpoint, save_checkpoint
from genrl.training.logger import RunLogger
from genrl.training.phases import Algorithm, Phase
from genrl.training.preemption import PreemptionGuard

#: evaluate(final) -> summary dict with at least "score"; ``final`` asks for the final-evaluation episodes.
EvaluateFn = Callable[[bool], dict[str, float]]


@dataclass
class TrainingOutcome:
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    phase_steps: dict[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0
    sessions: int = 1  # how many processes worked on this run (1 + resumptions)
    resumed_at: list[dict[str, Any]] = field(default_factory=list)  # where each resumption picked up


@dataclass
class _Position:
    phase_index: int = 0
    step: int = 0
    sampler: dict[str, Any] | None = None


class Trainer:
    """Drives any :class:`~genrl.training.phases.Algorithm`; knows no algorithm by name.

    A checkpoint (atomic) is written every ``checkpoint_every_s`` seconds, after every evaluation, at the end of
    every phase, and on SIGTERM / SIGUSR2 / SIGINT (preemption, requeue, Ctrl-C). It holds the algorithm, the
    minibatch sampler, all RNG states, the position and the evaluation history, so re-running resumes exactly
    where the last checkpoint left off: on CPU a resumed run ends with the same numbers as an uninterrupted one.
    With ``keep_phase_ends`` the checkpoint of each phase's end is also kept (:meth:`phase_end_path`), with
    ``keep_evaluations`` the one written after each evaluation (:meth:`evaluation_path`).
    """

    def __init__(
        self,
        algorithm: Algorithm,
        data: Transitions,
        budget: Budget,
        logger: RunLogger,
        checkpoint_path: Path,
        seed: int,
        evaluate: EvaluateFn | None = None,
        checkpoint_every_s: float = 600.0,
        log_every: int = 100,
        metadata: dict[str, Any] | None = None,
        precision: Callable[[], AbstractContextManager] = contextlib.nullcontext,
        keep_phase_ends: bool = False,
        keep_evaluations: bool = False,
    ) -> None:
        self.algorithm, self.data, self.budget, self.logger = algorithm, data, budget, logger
        self.checkpoint_path, self.seed, self.evaluate_fn = Path(checkpoint_path), seed, evaluate
        self.checkpoint_every_s, self.log_every = checkpoint_every_s, max(1, log_every)
        self.metadata = metadata or {}
        self.precision, self.keep_phase_ends, self.keep_evaluations = precision, keep_phase_ends, keep_evaluations
        self.outcome = TrainingOutcome()
        self._elapsed_before = 0.0
        self._session_start = time.monotonic()
        self._last_save = time.monotonic()

    # -- public ------------------------------------------------------------------------------------------
    def fit(self) -> TrainingOutcome:
        phases = self.algorithm.phases()
        position = self._resume(phases)
        self._phase_names = [p.name for p in phases]
        offset = sum(self.budget.steps_of(p, len(self.data)) for p in phases[: position.phase_index])
        with PreemptionGuard() as self._guard:
            for index in range(position.phase_index, len(phases)):
                phase = phases[index]
                total = self.budget.steps_of(phase, len(self.data))
                resumed = position if index == position.phase_index and position.sampler is not None else None
                self._run_phase(index, phase, total, offset, resumed)
                self.outcome.phase_steps[phase.name] = total
                offset += total
        self.outcome.wall_time_s = self._elapsed()
        return self.outcome

    # -- one phase ----------------------------------------------------------------------------------------
    def _run_phase(self, index: int, phase: Phase, total: int, offset: int, resumed: _Position | None) -> None:
        batch_size = self.budget.batch_size(phase)
        sampler = IndexSampler(len(self.data), batch_size, self.seed * 1000 + index, self.data.device)
        step = 0
        if resumed is not None:
            sampler.load_state_dict(resumed.sampler)
            step = resumed.step
            if phase.on_resume is not None:
                phase.on_resume(self.data)
        elif phase.on_start is not None:
            phase.on_start(self.data)
        eval_at = self.budget.evaluation_steps(total) if phase.evaluate and self.evaluate_fn else set()
        with self.logger.progress(phase.name, total, step) as bar:
            while step < total:
                with self.precision():
                    metrics = phase.update(self.data.batch(sampler.next()))
                step += 1
                bar.update(1)
                if step % self.log_every == 0 or step == total:
                    self._log_train(phase, step, offset + step, metrics)
                if step in eval_at:
                    self._evaluate(phase, step, offset + step, final=step == total)
                if step in eval_at or step == total or self._checkpoint_due() or self._guard.pending:
                    self._save(index, step, sampler, total)
                    self._guard.forward_pending()
                if step in eval_at and self.keep_evaluations:  # the policy that evaluation scored
                    shutil.copyfile(self.checkpoint_path, self.evaluation_path(phase, step))
        if total == 0 and index == len(self._phase_names) - 1:  # an empty last phase: the run ends here
            self._save(index, step, sampler, total)
        if self.keep_phase_ends and step == total and self.checkpoint_path.exists():  # a run may start from here
            shutil.copyfile(self.checkpoint_path, self.phase_end_path(phase))

    def _log_train(self, phase: Phase, step: int, global_step: int, metrics: dict[str, Tensor | float]) -> None:
        values = {k: float(v) for k, v in metrics.items()}
        self.logger.log({"event": "train", "phase": phase.name, "step": step, "global_step": global_step, **values})

    def _evaluate(self, phase: Phase, step: int, global_step: int, final: bool) -> None:
        summary = self.evaluate_fn(final)
        record = {"event": "eval", "phase": phase.name, "step": step, "global_step": global_step, "final": final}
        record.update(summary)
        self.outcome.evaluations.append(record)
        self.logger.log(record)

    # -- checkpoints ------------------------------------------------------------------------------------
    def phase_end_path(self, phase: Phase) -> Path:
        """Where ``keep_phase_ends`` keeps the checkpoint written as ``phase`` ended: ``checkpoint.<phase>.pt``."""
        return self.checkpoint_path.with_suffix(f".{phase.name}{self.checkpoint_path.suffix}")

    def evaluation_path(self, phase: Phase, step: int) -> Path:
        """Where ``keep_evaluations`` keeps the checkpoint of an evaluation: ``checkpoint.<phase>-<step>.pt``."""
        return self.checkpoint_path.with_suffix(f".{phase.name}-{step}{self.checkpoint_path.suffix}")

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_save >= self.checkpoint_every_s

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._session_start)

    def _save(self, index: int, step: int, sampler: IndexSampler, total: int) -> None:
        finished = index == len(self._phase_names) - 1 and step == total
        state = {
            "format": 1,
            "metadata": self.metadata,
            "position": {"phase_index": index, "step": step, "sampler": sampler.state_dict()},
            # what deployment checks (training.checkpoint.training_progress): a policy of an unfinished run is not
            # evaluated as if trained
            "progress": {"phase": self._phase_names[index], "step": step, "steps": total, "finished": finished},
            "algorithm": self.algorithm.state_dict(),
            "rng": rng_state(),
            "evaluations": self.outcome.evaluations,
            "phase_steps": self.outcome.phase_steps,
            "elapsed_s": self._elapsed(),
            "sessions": self.outcome.sessions,
            "resumed_at": self.outcome.resumed_at,
            "log_offset": self.logger.offset(),
        }
        save_checkpoint(state, self.checkpoint_path)
        self._last_save = time.monotonic()

    def _resume(self, phases: list[Phase]) -> _Position:
        state = load_checkpoint(self.checkpoint_path, map_location=self.data.device)
        if state is None:
            return _Position()
        self.algorithm.load_state_dict(state["algorithm"])
        restore_rng_state(state["rng"])
        self.outcome.evaluations = list(state["evaluations"])
        self.outcome.phase_steps = dict(state["phase_steps"])
        self._elapsed_before = float(state["elapsed_s"])
        self.outcome.sessions = int(state.get("sessions", 1)) + 1
        self.logger.truncate(int(state["log_offset"]))
        pos = state["position"]
        here = {"phase": phases[pos["phase_index"]].name, "step": pos["step"]}
        self.outcome.resumed_at = [*state.get("resumed_at", []), here]
        return _Position(pos["phase_index"], pos["step"], pos["sampler"])
