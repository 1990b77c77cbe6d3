"""The start-of-run check of a composed config, before any data is loaded or anything is written.

Option strings are typed choices in :mod:`genrl.config`, so a typo already fails when Hydra composes the config.
This module checks what composition cannot: every numeric range (declared beside its default, genrl/ranges.py),
values that must agree with each other, the dataset a run names (no silent fallback to the bundled demo data), the
device and the evaluation env id (Gymnasium's registry). Each failure is one :class:`ConfigError` (or
:class:`DatasetError`) naming the key, the value and what is allowed; ``train.py`` prints it as one line and exits
with status 2.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genrl.config import asset_path
from genrl.data.npz import NPZ_KEYS
from genrl.data.validate import check_size
from genrl.errors import ConfigError, DatasetError, one_line
from genrl.ranges import Range, declared_ranges

_MISSING = object()
NUMBER = Range()  # a finite number


def check_config(cfg: DictConfig, overrides: Sequence[str] = ()) -> None:
    """Raise one :class:`ConfigError`/:class:`DatasetError` for the first problem of ``cfg``; return if none.

    ``overrides`` are the command line's (Hydra's ``overrides.task``): they tell an explicit ``dataset=npz``
    from the demo task's own choice of the bundled data.
    """
    check_keys(cfg)  # first: a key added with `+` is checked against the schema like any other
    check_dataset(cfg, overrides)  # a dataset id left unset is also the task's name (env=minari)
    if OmegaConf.is_missing(cfg.env, "eval_env_id"):
        raise ConfigError(
            f"env.eval_env_id: not given; env={OmegaConf.select(cfg, 'env.name', default='custom')} (a dataset of "
            "your own) needs the Gymnasium id it is evaluated on: pass env.eval_env_id=<id>"
        )
    values = resolved(cfg)
    check_ranges(cfg)
    _check_pairs(values)
    check_device(str(values.get("device", "auto")))
    env_id = _get(values, "env.eval_env_id")
    kwargs = _get(values, "env.kwargs")
    if env_id not in (None, _MISSING):
        check_env_id(env_id, "env.eval_env_id", kwargs=kwargs if isinstance(kwargs, dict) else None)
    check_task_is_its_own(values, overrides)


def check_task_is_its_own(values: dict[str, Any], overrides: Sequence[str] = ()) -> None:
    """No implicit inheritance of another task's reference returns, name or tuning: a dataset file of the user's
    own on the default demo task, or an evaluation env given on the command line with the task's reference
    returns left as they were (they are another env's), is refused with the ways out."""
    explicit = _override_keys(overrides)
    env, path = values.get("env") or {}, _get(values, "dataset.path")
    if env.get("name") == "demo" and "env" not in explicit and path not in (_MISSING, None, asset_path("demo.npz")):
        raise ConfigError(
            f"dataset.path={path}: not the demo task's data, and env=demo would score it with Pendulum's reference "
            "returns, name and tuning; pass env=custom env.eval_env_id=<id> (named after the file, raw returns; "
            "train.py does this when no env= is given) or your task's env=..."
        )
    refs = ("env.ref_min_score", "env.ref_max_score")
    if "env.eval_env_id" in explicit and not set(refs) <= explicit and env.get("ref_min_score") is not None:
        raise ConfigError(
            f"env.eval_env_id={env.get('eval_env_id')}: env={env.get('name')}'s reference returns "
            f"(env.ref_min_score={env.get('ref_min_score')}, env.ref_max_score={env.get('ref_max_score')}) are of "
            "its own env; pass both for this env (`genrl-reference <id>` measures them), or "
            "env.ref_min_score=null env.ref_max_score=null for raw returns"
        )


#: Keys of a ``_target_`` node that are Hydra's or genrl's own, not the constructor's.
_NODE_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_", "name")


def check_keys(cfg: DictConfig, key: str = "") -> None:
    """Every key of ``cfg`` is one its schema declares (a node typed by a dataclass of :mod:`genrl.config`) or its
    constructor takes (an untyped ``_target_`` node, e.g. a plug-in's ``algorithm``). Hydra refuses a typo'd key
    at composition, but ``+key=value`` (and ``++``) adds it anyway: this refuses it the same way, by name."""
    node = OmegaConf.select(cfg, key, throw_on_resolution_failure=False) if key else cfg
    if not isinstance(node, DictConfig):  # a value, or an interpolation (resolved later, by its own key)
        return
    schema = OmegaConf.get_type(node)
    allowed: list[str] | None = None
    if dataclasses.is_dataclass(schema):
        allowed = [f.name for f in dataclasses.fields(schema)]
    elif isinstance(node.get("_target_"), str):
        try:
            target = get_object(node._target_)
            params = inspect.signature(target).parameters.values()
        except (TypeError, ValueError, ImportError, AttributeError):
            params = None
        if params is not None and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            built_node = getattr(target, "policy_key", None)  # an Algorithm's policy node, built by the root
            allowed = [*_NODE_KEYS, *(p.name for p in params), *([built_node] if isinstance(built_node, str) else [])]
    for name in node:
        child = f"{key}.{name}" if key else str(name)
        if allowed is not None and name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f"; did you mean {child.rsplit('.', 1)[0] + '.' if key else ''}{close[0]}?" if close else ""
            where = f"{key} has" if key else "the config has"
            raise ConfigError(f"{child}: not a config key ({where} no key '{name}', `+` or not){hint}")
        if child != "env.kwargs":  # the env's own options: checked against its constructor (check_env_id)
            check_keys(cfg, child)


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain containers with every interpolation resolved; a value that cannot be resolved (a
    mandatory ``???`` left unset, an interpolation to a missing key) is one :class:`ConfigError` naming its key."""
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True, enum_to_str=True)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{key}: {message}" if key else message) from None


def check_ranges(cfg: DictConfig, key: str = "") -> None:
    """Every value of ``cfg`` (or of its node ``key``) in the range declared beside its default (genrl/ranges.py)."""
    for name, bound, value in ranged_values(cfg, key):
        if not bound.allows(value):
            raise ConfigError(f"{name}={_show(value)}: expected {bound}")


def ranged_values(cfg: DictConfig, key: str = "") -> Iterator[tuple[str, Range, Any]]:
    """(key, :class:`Range`, value) of each value whose constructor (its node's ``_target_``) or schema has a range."""
    node = OmegaConf.select(cfg, key) if key else cfg
    values = resolved(node)
    target = values.get("_target_")
    rules = {**declared_ranges(OmegaConf.get_type(node)), **(declared_ranges(get_object(target)) if target else {})}
    for name, value in values.items():
        child = f"{key}.{name}" if key else str(name)
        if name in rules:
            yield child, rules[name], value
        elif isinstance(value, dict):
            yield from ranged_values(cfg, child)


def _check_pairs(values: dict[str, Any]) -> None:
    """Values that must agree with each other."""
    low, high = _get(values, "env.ref_min_score"), _get(values, "env.ref_max_score")
    if NUMBER.allows(low) and NUMBER.allows(high) and high <= low:
        raise ConfigError(
            f"env.ref_max_score={_show(high)}: expected more than env.ref_min_score={_show(low)} "
            "(scores are 100·(R − R_min)/(R_max − R_min))"
        )
    low, high = _get(values, "algorithm.policy.log_std_min"), _get(values, "algorithm.policy.log_std_max")
    if NUMBER.allows(low) and NUMBER.allows(high) and high <= low:
        raise ConfigError(
            f"algorithm.policy.log_std_max={_show(high)}: expected more than algorithm.policy.log_std_min={_show(low)}"
        )
    check_critic(values)


def check_critic(values: dict[str, Any]) -> None:
    """``critic=`` is one the algorithm declares it can learn from (:attr:`Algorithm.critics`), and K > 1 candidates
    have a critic to score them."""
    algorithm, critic = values.get("algorithm") or {}, values.get("critic") or {}
    name = critic.get("name", "iql")
    allowed = get_object(algorithm["_target_"]).critics if "_target_" in algorithm else (name,)
    if name not in allowed:
        raise ConfigError(
            f"critic={name}: algorithm={algorithm.get('name')} learns from {' or '.join(allowed)} (critic={allowed[0]})"
        )
    candidates = _get(values, "sampling.candidates")
    if "_target_" not in critic and NUMBER.allows(candidates) and candidates > 1:
        raise ConfigError(
            f"sampling.candidates={candidates}: critic={name} has nothing to score candidates with; "
            "use sampling.candidates=1 or a critic (critic=iql)"
        )


def check_dataset(cfg: DictConfig, overrides: Sequence[str] = ()) -> None:
    """The dataset the config names exists as far as can be told without reading it, and is the one asked for:
    ``dataset=npz`` on the command line never falls back to the demo task's bundled file."""
    node = OmegaConf.select(cfg, "dataset")
    dataset = resolved(node) if isinstance(node, DictConfig) else {}
    env_name = OmegaConf.select(cfg, "env.name", throw_on_resolution_failure=False)
    kind = dataset.get("name")
    if kind == "npz":
        path = dataset.get("path")
        if path is None:
            raise ConfigError(f"dataset=npz: no file given (env={env_name} names none); pass dataset.path=FILE.npz")
        explicit = _override_keys(overrides)
        if "dataset" in explicit and "dataset.path" not in explicit and path == asset_path("demo.npz"):
            raise ConfigError(
                "dataset=npz: no dataset.path given (the run would train on the bundled demo data); "
                "pass dataset.path=FILE.npz, or leave out dataset=npz to train on the demo task"
            )
    elif kind == "minari" and not dataset.get("dataset_id"):
        raise ConfigError(
            "dataset.dataset_id=null: env=minari needs a Minari dataset id; pass dataset.dataset_id=<id> "
            "(e.g. D4RL/door/human-v2; `minari list remote` lists them)"
        )
    elif kind == "d4rl" and dataset.get("path") is None and not dataset.get("file_name"):
        raise ConfigError(
            f"env={env_name} names no d4rl file; pass dataset.path=FILE.hdf5 (or dataset.file_name=NAME.hdf5)"
        )
    path = dataset.get("path")
    if kind in ("npz", "d4rl") and path is not None and not Path(path).expanduser().is_file():
        expected = f"an .npz with keys {', '.join(NPZ_KEYS)}" if kind == "npz" else "a D4RL v2 .hdf5 file"
        raise DatasetError(f"{path}: file not found (dataset.path); expected {expected} at this path")
    if kind == "npz" and path is not None:  # (a D4RL file's usable rows depend on its episodes: its loader says)
        check_size(str(path), _stored_rows(Path(path).expanduser()))


def _stored_rows(file: Path) -> int | None:
    """The number of transitions an npz file holds, read from its ``reward`` header only (None when it cannot be
    told: the loader then validates the file key by key)."""
    try:
        with zipfile.ZipFile(file) as archive, archive.open("reward.npy") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            return int(read(handle)[0][0])
    except Exception:  # any unreadable header: the loader's own checks name the problem
        return None


def check_device(name: str) -> None:
    """``auto``, or a device torch can parse; CUDA only when it is available."""
    if name != "auto":
        try:
            torch.device(name)
        except (RuntimeError, ValueError):
            raise ConfigError(f"device={name}: expected auto, cpu, cuda or cuda:N") from None
    resolve_device(name)


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; a CUDA device only when one is available."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but no CUDA device is available; use device=auto or device=cpu")
    return device


#: Ids Gymnasium removed whose replacement is another id with options: (replacement id, its env.kwargs).
REPLACED_ENV_IDS: dict[str, tuple[str, dict[str, Any]]] = {
    "LunarLanderContinuous-v2": ("LunarLander-v3", {"continuous": True}),
    "LunarLander-v2": ("LunarLander-v3", {}),
    "BipedalWalkerHardcore-v2": ("BipedalWalker-v3", {"hardcore": True}),
    "BipedalWalker-v2": ("BipedalWalker-v3", {}),
    "CarRacing-v2": ("CarRacing-v3", {}),
}
#: gym.make's own keywords, which genrl sets itself: not env.kwargs.
_MAKE_KEYWORDS = {
    "max_episode_steps": "set env.max_episode_steps instead", "render_mode": "genrl-eval --video sets it",
    "autoreset": "genrl's evaluator resets the envs itself", "disable_env_checker": "genrl sets it",
    "apply_api_compatibility": "not supported",
}  # fmt: skip
#: Optional dependencies of Gymnasium's env families: how to install them with genrl.
_DEPENDENCY_HINTS = {"box2d": 'pip install "genrl[box2d]" (Box2D for LunarLander, BipedalWalker, CarRacing)'}


def check_env_id(
    env_id: str, key: str = "env.eval_env_id", source: str | None = None, kwargs: dict[str, Any] | None = None
) -> None:
    """``env_id`` is registered with Gymnasium (importing ``module:`` prefixes as ``gymnasium.make`` does), its
    module imports (optional dependencies such as Box2D are installed), and its constructor takes every keyword
    of ``kwargs`` (``env.kwargs``).

    ``source``: where the id came from when the config did not name it (a dataset's metadata, a checkpoint).
    """
    subject = f"{key}={env_id}" if source is None else f"{source}: its evaluation env {env_id} (set {key}=...)"
    if env_id in REPLACED_ENV_IDS:
        new_id, new_kwargs = REPLACED_ENV_IDS[env_id]
        options = ", ".join(f"{k}: {str(v).lower()}" for k, v in new_kwargs.items())
        with_kwargs = f" 'env.kwargs={{{options}}}'" if new_kwargs else ""
        raise ConfigError(f"{subject}: removed from Gymnasium; use {key}={new_id}{with_kwargs}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = gymnasium.spec(env_id)
    except gymnasium.error.DeprecatedEnv as err:
        raise ConfigError(f"{subject}: removed from Gymnasium ({one_line(err)})") from None
    except (gymnasium.error.Error, ImportError, ValueError) as err:
        close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; gymnasium.pprint_registry() lists them"
        reason = one_line(err).split(". ")[0]
        raise ConfigError(f"{subject}: not a registered Gymnasium environment ({reason}){hint}") from None
    creator = _env_creator(spec, subject)
    _check_env_kwargs(env_id, creator, kwargs or {})


def _env_creator(spec: Any, subject: str) -> Callable[..., Any]:
    """The env's class or factory, imported: a missing optional dependency is one line with its install hint."""
    if callable(spec.entry_point):
        return spec.entry_point
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_env_creator(spec.entry_point)
    except (gymnasium.error.DependencyNotInstalled, ImportError) as err:
        family = spec.entry_point.split(":")[0].split(".")
        hint = next((h for name, h in _DEPENDENCY_HINTS.items() if name in family), None)
        if hint is None:
            raise ConfigError(f"{subject}: cannot be made ({one_line(err)})") from None
        reason = one_line(err).split(",")[0]  # Gymnasium's own install advice is for Gymnasium alone
        raise ConfigError(f"{subject}: cannot be made ({reason}); install it with {hint}") from None


def _keywords(creator: Callable[..., Any]) -> list[str] | None:
    """The keywords ``creator`` takes, following ``**kwargs`` up a class's bases (MuJoCo envs pass theirs to
    ``MujocoEnv``); None when they cannot be known (a ``**kwargs`` that goes nowhere visible, a C factory)."""
    if inspect.isclass(creator):
        inits = [vars(cls)["__init__"] for cls in creator.__mro__ if "__init__" in vars(cls)]
    else:
        inits = [creator]
    accepted: list[str] = []
    for init in inits:
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        accepted += [p.name for p in params if p.kind in keyword and p.name not in ("self", *_MAKE_KEYWORDS, *accepted)]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return accepted
    return None


def _check_env_kwargs(env_id: str, creator: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    for name in kwargs:
        if name in _MAKE_KEYWORDS:
            raise ConfigError(f"env.kwargs.{name}: not an env option of {env_id}; {_MAKE_KEYWORDS[name]}")
    accepted = _keywords(creator)
    if accepted is None:
        return
    for name in kwargs:
        if name not in accepted:
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"env.kwargs.{name}: {env_id} takes no keyword '{name}'; {hint}it takes {', '.join(accepted) or 'none'}"
            )


# ---------------------------------------------------------------------------------------------------------
# Hydra's own errors (composition, override syntax), as one line


def composition_error_line(err: BaseException) -> str:
    """One line from a Hydra/OmegaConf composition error: what failed, the key, the value and what is allowed."""
    text = str(err)
    if "Config search path:" in text:  # a missing config option: the options are useful, the search path is not
        text = text[: text.index("Config search path:")]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    parts: list[str] = []
    while lines:
        line = lines.pop(0)
        if line.startswith("Available options in"):  # followed by one option name per line
            options = []
            while lines and " " not in lines[0]:
                name = lines.pop(0)
                if not name.endswith("_schema"):  # the schemas the options extend are not options
                    options.append(name)
            line = f"{line[0].lower()}{line[1:]} {', '.join(options)}"
        parts.append(line.rstrip("."))
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        first = str(cause).strip().splitlines()[0].strip()
        key = getattr(cause, "full_key", None)
        parts.append(first + (f" (key: {key})" if key and key not in first else ""))
    return re.sub(r"\s+", " ", "; ".join(parts)).strip() or type(err).__name__


# ---------------------------------------------------------------------------------------------------------
# helpers


def _get(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def _override_keys(overrides: Sequence[str]) -> set[str]:
    """``{"dataset", "dataset.path"}`` from ``["dataset=npz", "+dataset.path=x"]``."""
    return {item.split("=", 1)[0].lstrip("+~") for item in overrides if "=" in item}
