"""Value ranges, written once beside the default they bound: ``batch_size: Count = 4096`` on a constructor (or a
schema in ``config.py``). ``config_checks.check_ranges`` checks each config node against the :func:`declared_ranges`
of the constructor its ``_target_`` names and of its schema."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any


@dataclass(frozen=True)
class Range:
    """A finite number in [low, high] (``*_open``: that end strict); ``nullable``: or None; ``each``: a list of them."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    each: bool = False

    def allows(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        return all(map(self._holds, value)) if self.each and isinstance(value, list) else self._holds(value)

    def _holds(self, v: Any) -> bool:
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return False
        above = v > self.low if self.low_open else v >= self.low
        return above and (v < self.high if self.high_open else v <= self.high)

    def __str__(self) -> str:
        if math.isinf(self.high):
            text = "a finite number" if math.isinf(self.low) else f"{'>' if self.low_open else '>='} {self.low}"
        else:
            text = f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        return f"{'every entry ' if self.each else ''}{text}{' or null' if self.nullable else ''}"


Count = Annotated[int, Range(1)]  # batch sizes, steps, episodes, layer widths
Positive = Annotated[float, Range(0, low_open=True)]
NonNegative = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1, low_open=True, high_open=True)]  # (0, 1)
Rate = Annotated[float, Range(0, 1, low_open=True)]  # (0, 1]: discounts, target-network rates
Decay = Annotated[float, Range(0, 1, high_open=True)]  # [0, 1): EMA decays


@cache
def declared_ranges(obj: Any) -> dict[str, Range]:
    """``{parameter: Range}`` of ``obj`` (a class's ``__init__``, a dataclass, a function): ``X | None`` is nullable."""
    typed = obj if dataclasses.is_dataclass(obj) or not isinstance(obj, type) else obj.__init__
    ranges = {}
    for name, hint in typing.get_type_hints(typed, include_extras=True).items():
        nullable = type(None) in typing.get_args(hint)
        hint = next(a for a in typing.get_args(hint) if a is not type(None)) if nullable else hint
        each = typing.get_origin(hint) in (list, tuple, Sequence)
        hint = typing.get_args(hint)[0] if each else hint
        for bound in getattr(hint, "__metadata__", ())[:1]:
            ranges[name] = dataclasses.replace(bound, nullable=nullable, each=each)
    return ranges
