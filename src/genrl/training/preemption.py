"""Checkpoint on SIGTERM / SIGUSR2 / SIGINT before the signal does what it was going to do.

SLURM sends SIGTERM on ``scontrol requeue`` and preemption, and SIGUSR2 before a time limit (submitit then
requeues the job); Ctrl-C sends SIGINT. The guard only records the signal; the training loop saves a
checkpoint at the next step boundary (a consistent state) and then hands the signal on to the handler that was
installed before (submitit's, Python's KeyboardInterrupt, or the default action).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

GUARDED_SIGNALS = tuple(s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGUSR2", None)) if s)


class PreemptionGuard:
    def __init__(self) -> None:
        self.pending: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> PreemptionGuard:
        if threading.current_thread() is threading.main_thread():  # signals can only be set there
            for sig in GUARDED_SIGNALS:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def forward_pending(self) -> None:
        """Deliver recorded signals to the handlers that were there before the guard."""
        signals, self.pending = self.pending, []
        for signum in signals:
            previous = self._previous.get(signum, signal.SIG_DFL)
            if callable(previous):
                previous(signum, None)
            elif previous == signal.SIG_DFL:
                self.__exit__()
                os.kill(os.getpid(), signum)
