"""Dataset checks that turn malformed files into one-line :class:`~genrl.errors.DatasetError` messages.

Every message starts with the file (or dataset id), names the key, and says what was expected. The shape
checks only need ``.shape``, so they also run on h5py datasets before anything is read into memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Box

from genrl.data.transitions import Transitions
from genrl.errors import DatasetError

#: Rows checked per chunk by :func:`check_finite`, so the temporary mask stays small.
_FINITE_CHUNK_ROWS = 1 << 16


#: The fewest transitions a run trains on: fewer cannot fill a minibatch worth learning from (a one-transition
#: file used to fail only after the critic phase).
MIN_TRANSITIONS = 10


def check_size(source: str, rows: int | None) -> None:
    """At least :data:`MIN_TRANSITIONS` transitions (``rows`` None: unknown, not checked)."""
    if rows is not None and rows < MIN_TRANSITIONS:
        raise DatasetError(f"{source}: {rows} transition(s); expected at least {MIN_TRANSITIONS} to train on")


def require_keys(source: str, present: Iterable[str], required: Sequence[str]) -> None:
    """Raise if any of ``required`` is not among ``present``, listing the expected keys."""
    present = set(present)
    missing = [key for key in required if key not in present]
    if missing:
        raise DatasetError(
            f"{source}: missing key '{missing[0]}'; expected keys {', '.join(required)} "
            f"(found: {', '.join(sorted(present)) or 'none'})"
        )


def check_columns(
    source: str,
    columns: Mapping[str, Any],
    matrices: Sequence[str],
    vectors: Sequence[str],
    same_shape: tuple[str, str] | None = None,
) -> int:
    """Shape checks on array-likes: ``matrices`` 2-D, ``vectors`` (N,) or (N, 1), equal row counts, N > 0.

    ``same_shape`` names two matrices that must have identical shapes (observations and next observations).
    Returns N. Keys not in ``columns`` are skipped.
    """
    for key in matrices:
        if key in columns and len(columns[key].shape) != 2:
            raise DatasetError(
                f"{source}: key '{key}' has shape {_shape(columns[key])}; expected a 2-D array (N, dim)"
            )
    for key in vectors:
        if key in columns and not _is_vector(columns[key].shape):
            raise DatasetError(
                f"{source}: key '{key}' has shape {_shape(columns[key])}; expected (N,) or (N, 1)"
            )
    if same_shape and all(key in columns for key in same_shape):
        first, second = same_shape
        if tuple(columns[first].shape) != tuple(columns[second].shape):
            raise DatasetError(
                f"{source}: key '{second}' has shape {_shape(columns[second])} but '{first}' has "
                f"{_shape(columns[first])}; expected the same shape"
            )
    return check_lengths(source, columns)


def check_lengths(source: str, columns: Mapping[str, Any]) -> int:
    """All columns must have the same (non-zero) number of rows as the first one; returns it."""
    items = list(columns.items())
    if not items:
        raise DatasetError(f"{source}: no data; expected at least one transition")
    ref_key, ref = items[0]
    rows = int(ref.shape[0]) if len(ref.shape) else 0
    for key, column in items[1:]:
        n = int(column.shape[0]) if len(column.shape) else 0
        if n != rows:
            raise DatasetError(
                f"{source}: key '{key}' has {n} rows but '{ref_key}' has {rows}; "
                "expected the same number of rows"
            )
    if rows == 0:
        raise DatasetError(f"{source}: key '{ref_key}' has 0 rows; expected at least one transition")
    return rows


def check_finite(source: str, key: str, array: np.ndarray) -> None:
    """Raise on NaN or inf in a floating-point array, with the count and the first offending row."""
    if not np.issubdtype(array.dtype, np.floating) or len(array) == 0:
        return
    for start in range(0, len(array), _FINITE_CHUNK_ROWS):
        chunk = array[start : start + _FINITE_CHUNK_ROWS]
        if not np.isfinite(chunk).all():
            _raise_not_finite(source, key, array)


def _raise_not_finite(source: str, key: str, array: np.ndarray) -> None:
    flat = array.reshape(len(array), -1)
    for name, test in (("NaN", np.isnan), ("infinite", np.isinf)):
        mask = test(flat)
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows):
            count = int(mask.sum())
            raise DatasetError(
                f"{source}: key '{key}' has {count} {name} value(s) (first at row {rows[0]}); "
                "expected finite numbers"
            )


def as_vector(array: np.ndarray) -> np.ndarray:
    """(N,) view of an (N,) or (N, 1) array (shape already checked)."""
    return array.reshape(-1)


def as_flags(array: np.ndarray) -> np.ndarray:
    """(N,) bool array from boolean or 0/1 numeric flags."""
    flat = as_vector(array)
    return flat.astype(bool) if flat.dtype == np.bool_ else flat > 0.5


def check_against_env(
    data: Transitions,
    observation_space: Any,
    action_space: Any,
    env_id: str,
    action_tolerance: float = 1e-4,
) -> None:
    """Observation/action dims must match ``env_id``'s Box spaces; actions must lie inside the bounds.

    Actions may exceed the bounds by at most ``action_tolerance``. Non-Box spaces raise a DatasetError.
    """
    keys = data.metadata.get("keys", {})
    obs_key, action_key = keys.get("obs", "obs"), keys.get("action", "action")
    obs_size = _box_size(data.source, env_id, "observation", observation_space)
    act_size = _box_size(data.source, env_id, "action", action_space)
    if data.obs_dim != obs_size:
        raise DatasetError(
            f"{data.source}: key '{obs_key}' has {data.obs_dim} columns; expected {obs_size} to match "
            f"{env_id}'s observation space {tuple(observation_space.shape)}"
        )
    if data.action_dim != act_size:
        raise DatasetError(
            f"{data.source}: key '{action_key}' has {data.action_dim} columns; expected {act_size} to match "
            f"{env_id}'s action space {tuple(action_space.shape)}"
        )
    _check_action_bounds(data, action_space, env_id, action_key, action_tolerance)


def _check_action_bounds(data: Transitions, space: Any, env_id: str, key: str, tolerance: float) -> None:
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    actions = data.action.detach().cpu().numpy()
    for bound, values, rows, outside in (
        (low, actions.min(axis=0), actions.argmin(axis=0), lambda v, b: v < b - tolerance),
        (high, actions.max(axis=0), actions.argmax(axis=0), lambda v, b: v > b + tolerance),
    ):
        bad = np.flatnonzero(outside(values.astype(np.float64), bound))
        if len(bad):
            col = int(bad[0])
            raise DatasetError(
                f"{data.source}: key '{key}' column {col} reaches {float(values[col]):.6g} at row "
                f"{int(rows[col])}; expected values within {env_id}'s action bounds "
                f"[{low[col]:.6g}, {high[col]:.6g}] (tolerance {tolerance:g})"
            )


def _box_size(source: str, env_id: str, what: str, space: Any) -> int:
    if not isinstance(space, Box):
        raise DatasetError(
            f"{source}: {env_id}'s {what} space is {type(space).__name__}; expected a gymnasium Box space"
        )
    return int(np.prod(space.shape))


def _is_vector(shape: Sequence[int]) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)


def _shape(array: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in array.shape)
