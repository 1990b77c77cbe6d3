"""Structured-config schemas (typos and wrong types fail when the config is composed) and OmegaConf resolvers.

Importing this module registers the schemas in Hydra's ConfigStore and the ``genrl.*`` resolvers.
"""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from hashlib import sha1
from importlib import resources
from pathlib import PurePath
from typing import Annotated, Any

import yaml
from hydra.core.config_store import ConfigStore
from hydra.utils import get_object
from omegaconf import MISSING, DictConfig, OmegaConf

from genrl.acting.policy import SELECTIONS
from genrl.algorithms.gmpg import GRADIENTS
from genrl.algorithms.iql import LR_SCHEDULES
from genrl.algorithms.srpo import WEIGHTINGS
from genrl.critics.advantage_scale import ADVANTAGE_NORMALIZATIONS
from genrl.critics.iql import V_TARGETS
from genrl.data.rewards import REWARD_TRANSFORMS
from genrl.evaluation.evaluator import VECTORIZATION_MODES
from genrl.models.likelihood import ESTIMATORS, PROBES
from genrl.models.parameterizations import PARAMETERIZATIONS
from genrl.models.solvers import ADAPTIVE_METHODS, FIXED_GRID_METHODS
from genrl.ranges import Count, NonNegative, Positive, Range
from genrl.training.acceleration import AUTOCAST_KINDS, COMPILE_MODES
from genrl.training.logger import WANDB_MODES

# ---------------------------------------------------------------------------------------------------------
# option strings: each a typed choice, so a typo fails when the config is composed (one source of truth: the
# tuples the constructors check against)


class Choice(str, Enum):
    """An option's allowed strings (member name = value). A member compares, hashes and formats as its string,
    so code reading the config sees ``"euler"``; :func:`plain` turns a composed config into plain strings."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str(self), spec)


def _choices(**values: tuple[str, ...] | list[str]) -> tuple[type[Choice], ...]:  # one enum per keyword
    return tuple(Choice(name, [(v, v) for v in vs], module=__name__, qualname=name) for name, vs in values.items())


(SamplingMethod, Selection, AdvantageNormalization, LRSchedule, Gradient, Estimator, Probe, ModelParameterization,
 VTarget, RewardTransform, Vectorization, WandbMode, Autocast, CompileMode, SRPOWeighting) = _choices(
    SamplingMethod=FIXED_GRID_METHODS + ADAPTIVE_METHODS, Selection=SELECTIONS,
    AdvantageNormalization=ADVANTAGE_NORMALIZATIONS, LRSchedule=LR_SCHEDULES, Gradient=GRADIENTS,
    Estimator=ESTIMATORS, Probe=PROBES, ModelParameterization=sorted(PARAMETERIZATIONS), VTarget=V_TARGETS,
    RewardTransform=REWARD_TRANSFORMS, Vectorization=VECTORIZATION_MODES, WandbMode=WANDB_MODES,
    Autocast=AUTOCAST_KINDS, CompileMode=COMPILE_MODES, SRPOWeighting=list(WEIGHTINGS),
)  # fmt: skip


def plain(cfg: DictConfig) -> DictConfig:
    """``cfg`` resolved, with every choice as a plain ``str`` (what constructors, checkpoints and JSON get)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    OmegaConf.set_struct(out, True)
    return out


def _represent_choice(dumper: yaml.SafeDumper, value: Choice) -> yaml.Node:
    return dumper.represent_str(str(value))


for _dumper in (yaml.SafeDumper, yaml.Dumper):  # a resolved config dumps as the strings it was written with
    _dumper.add_multi_representer(Choice, _represent_choice)

# ---------------------------------------------------------------------------------------------------------
# schemas generated from their constructors


def schema(cls: type) -> type:
    """``cls`` as a dataclass whose fields without a value take the default of ``cls._target_``'s signature.

    A genrl constructor is the one source of each default it has: the schema only adds what Hydra needs (the typed
    choice, the target, defaults for arguments the constructor requires). A field with no value here and no
    default in the signature is an error at import.
    """
    target = inspect.signature(get_object(cls._target_)).parameters
    generated = []
    for name, kind in typing.get_type_hints(cls).items():
        if name in vars(cls):
            continue
        parameter = target.get(name)
        if parameter is None or parameter.default is inspect.Parameter.empty:
            raise TypeError(f"{cls.__name__}.{name}: no value here and no default in {cls._target_}'s signature")
        default = parameter.default
        if isinstance(kind, type) and issubclass(kind, Choice):
            default = kind(default)
        elif isinstance(default, tuple | list):
            default = field(default_factory=partial(list, default))
        setattr(cls, name, default)
        generated.append(name)
    cls.FROM_SIGNATURE = tuple(generated)
    return dataclass(cls)


# ---------------------------------------------------------------------------------------------------------
# building blocks (a field with no value takes the constructor's default: see `schema`)


@dataclass
class AdamConfig:
    _target_: str = "torch.optim.Adam"
    _partial_: bool = True
    lr: Positive = 3e-4


@schema
class NetConfig:
    _target_: str = "genrl.networks.TemporalSpatialResidualNet"
    hidden_sizes: list[int]
    t_dim: int
    t_scale: float
    cond_hidden_dim: int
    t_cond_hidden_dim: int


@schema
class ModelConfig:
    _target_: str = "genrl.models.GenerativeModel"
    parameterization: ModelParameterization


@schema
class QNetConfig:
    _target_: str = "genrl.networks.DoubleQ"
    hidden_sizes: list[int]


@schema
class VNetConfig:
    _target_: str = "genrl.networks.ValueNet"
    hidden_sizes: list[int]


@schema
class CriticConfig:
    """``critic=iql``: twin Q, target Q̄ and V by expectile regression (genrl/critics/iql.py)."""

    _target_: str = "genrl.critics.IQLCritic"
    name: str = "iql"
    q_net: QNetConfig = field(default_factory=QNetConfig)
    v_net: VNetConfig = field(default_factory=VNetConfig)
    optimizer: AdamConfig = field(default_factory=AdamConfig)
    epochs: float = 5000
    batch_size: int
    expectile: float
    discount: float
    polyak: float
    v_target: VTarget


@schema
class TDCriticConfig:
    """``critic=td``: twin Q and target Q̄ by TD on a target policy's actions (genrl/critics/td.py)."""

    _target_: str = "genrl.critics.TDCritic"
    name: str = "td"
    q_net: QNetConfig = field(default_factory=lambda: QNetConfig(hidden_sizes=[256, 256, 256]))  # Diffusion-QL's
    v_net: VNetConfig = field(default_factory=VNetConfig)  # unused (TDCritic.unused_keys): budgets size IQL's V
    optimizer: AdamConfig = field(default_factory=AdamConfig)
    discount: float
    polyak: float
    grad_norm: float | None  # clip the critic's gradient norm (null: not clipped)


@schema
class InSupportCriticConfig:
    """``critic=insupport``: twin Q and target Q̄ by TD over K behaviour samples at s' (genrl/critics/insupport.py)."""

    _target_: str = "genrl.critics.insupport.InSupportCritic"
    name: str = "insupport"
    q_net: QNetConfig = field(default_factory=QNetConfig)
    v_net: VNetConfig = field(default_factory=VNetConfig)  # unused (budgets size IQL's V for every critic)
    optimizer: AdamConfig = field(default_factory=AdamConfig)
    epochs: float
    batch_size: int
    support_actions: int  # K actions a'_k ~ μ(·|s') per backup
    alpha: float  # inverse temperature of the softmax over Q̄(s', a'_k) (0: their mean; large: their max)
    discount: float
    polyak: float
    grad_norm: float | None


# ---------------------------------------------------------------------------------------------------------
# group option schemas (each option's YAML extends one of these)


@schema
class GMPOConfig:
    _target_: str = "genrl.algorithms.GMPO"
    name: str = "gmpo"
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=1e-4))
    beta: float = MISSING  # inverse temperature of the advantage weights (per task: conf/tuning/)
    max_weight: float = MISSING  # W_max, upper clamp of the weights
    epochs: float = 10000  # passes over the data in the policy phase
    batch_size: int
    advantage_normalization: AdvantageNormalization  # none (reference) | std: β·A/σ_A | ess: β·A/T_ess
    target_ess: float  # ess: the weights exp(A/T) keep this effective fraction of the data
    behaviour_epochs: float  # > 0: a behaviour-cloning phase initialises the policy
    ema_decay: float | None  # an EMA of the policy's weights acts (evaluation, Agent)


@schema
class BCConfig:
    _target_: str = "genrl.algorithms.BehaviourCloning"
    name: str = "bc"
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=1e-4))
    epochs: float = 10000
    batch_size: int
    train_critic: bool  # the critic scores candidates only (sampling.candidates > 1)
    ema_decay: float | None


@schema
class GaussianPolicyConfig:
    """IQL's actor: tanh-squashed mean in the action box, state-independent log-std (genrl/models/gaussian.py)."""

    _target_: str = "genrl.models.gaussian.GaussianPolicy"
    hidden_sizes: list[int]
    log_std_min: float
    log_std_max: float
    deterministic: bool  # act with the mean (IQL's evaluation); false: mean + sampling.noise_scale·σ·ε


@schema
class IQLConfig:
    """The published locomotion values are IQL's constructor defaults (genrl/algorithms/iql.py)."""

    _target_: str = "genrl.algorithms.IQL"
    name: str = "iql"
    policy: GaussianPolicyConfig = field(default_factory=GaussianPolicyConfig)  # built by the composition root
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=3e-4))
    beta: float  # inverse temperature of the AWR weights exp(β·A)
    max_weight: float
    epochs: float
    batch_size: int
    advantage_normalization: AdvantageNormalization  # none (IQL) | std: β·A/σ_A | ess: β·A/T_ess
    target_ess: float
    lr_schedule: LRSchedule  # cosine (IQL: decays to 0 over the policy phase) | constant
    ema_decay: float | None


@schema
class GMPGConfig:
    _target_: str = "genrl.algorithms.GMPG"
    name: str = "gmpg"
    behaviour_optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=1e-4))
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=1e-4))
    beta: float = MISSING
    behaviour_epochs: float = 2000
    epochs: float = MISSING
    behaviour_batch_size: int
    batch_size: int
    grad_steps: int  # Euler steps of the differentiable sampler and the likelihoods (reference: 999)
    gradient: Gradient  # exact: π's exact Euler-sampler density, exact ∂log μ/∂a | reference: frozen adjoint (§2.4)
    estimator: Estimator  # divergence in the likelihood ODEs: exact | hutchinson (the reference's)
    probe: Probe  # Hutchinson probe, redrawn at every evaluation: gaussian (reference) | rademacher
    recompute: bool  # checkpoint every ODE step: memory O(steps·B·A) instead of O(steps·activations)
    chunk_size: int | None  # accumulate the gradient over slices of this many states (None: whole batch)
    advantage_normalization: AdvantageNormalization  # none (reference) | std: −β·Q/σ_A | ess: −β·Q/T_ess
    target_ess: float
    clamp_actions: bool  # Q at the action clamped to the data's action box
    ema_decay: float | None  # μ (and so π's start) is the EMA of the behaviour-cloning weights


@schema
class DeterministicPolicyConfig:
    _target_: str = "genrl.models.deterministic.DeterministicPolicy"
    hidden_sizes: list[int]


@schema
class SRPOConfig:
    """SRPO (genrl/algorithms/srpo.py): the paper's values where they transfer; μ is trained as GMPG's."""

    _target_: str = "genrl.algorithms.srpo.SRPO"
    name: str = "srpo"
    policy: DeterministicPolicyConfig = field(default_factory=DeterministicPolicyConfig)  # built by the root
    behaviour_optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=1e-4))
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=3e-4))
    beta: float = 0.05  # weight of Q against the KL (the paper's per-task values: docs/algorithms.md)
    behaviour_epochs: float = 2000
    epochs: float = 256  # ≈ 1M steps at B = 256 on 1M transitions (the paper's)
    behaviour_batch_size: int
    batch_size: int
    weighting: SRPOWeighting  # ω(t): vds = s_t² (the paper's) | score = m_t/s_t | stable = 1
    t_min: float  # t ~ U(t_min, t_max) for the noised actions
    t_max: float
    noise_baseline: bool  # subtract ε from ε̂ (a control variate, same expectation)
    lr_schedule: LRSchedule
    advantage_normalization: AdvantageNormalization  # none (the paper's) | std: β·∇Q/σ_A | ess
    target_ess: float


@schema
class DQLConfig:
    """Diffusion-QL (genrl/algorithms/dql.py): the paper's locomotion values where they transfer."""

    _target_: str = "genrl.algorithms.dql.DQL"
    name: str = "dql"
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=3e-4))
    eta: float = 1.0  # weight of −Q/mean|Q| against the BC loss (the paper's locomotion value)
    epochs: float = 512  # ≈ 2M steps at B = 256 on 1M transitions (the paper's 2000 × 1000 steps)
    batch_size: int
    grad_steps: int  # Euler steps of the differentiable sample, the TD targets' actions (the paper: N = 5)
    recompute: bool
    grad_norm: float | None  # clip the policy's gradient norm (null: not clipped)
    ema_decay: float  # the target policy (TD targets' actions) is the EMA of the policy
    ema_start: int
    ema_every: int
    lr_schedule: LRSchedule  # cosine: policy's and critic's lr decay to 0 over the phase (the paper's --lr_decay)
    behaviour_epochs: float  # > 0: warm start, a BC-only phase first (not in the paper)
    critic_epochs: float  # > 0: warm start, TD on the cloned policy's actions before the joint phase


@schema
class OneStepPolicyConfig:
    _target_: str = "genrl.models.one_step.OneStepPolicy"
    hidden_sizes: list[int]


@schema
class FQLConfig:
    """FQL (genrl/algorithms/fql.py): the paper's values where they transfer (Adam 3e-4, batch 256, 10 flow steps,
    a 4 × 512 one-step MLP); the behaviour model is the run's generative model and path."""

    _target_: str = "genrl.algorithms.fql.FQL"
    name: str = "fql"
    policy: OneStepPolicyConfig = field(default_factory=OneStepPolicyConfig)  # μ(s, z), built by the root
    behaviour_optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=3e-4))
    optimizer: AdamConfig = field(default_factory=lambda: AdamConfig(lr=3e-4))
    alpha: float = 10.0  # weight of the distillation to the multi-step policy against the normalised Q term
    behaviour_epochs: float = 256  # ≈ 1M steps at B = 256 on 1M transitions
    epochs: float = 256
    behaviour_batch_size: int
    batch_size: int
    flow_steps: int  # Euler steps of the multi-step policy's distillation target (the paper's 10)
    normalize_q_loss: bool  # divide −Q by mean|Q| (the paper's normalize_q_loss)
    grad_norm: float | None  # clip the one-step policy's gradient norm (null: not clipped)
    q_scale: str  # the Q term's unit: mean_abs (the paper's mean|Q|) or action_spread (σ of Q over behaviour actions)
    target_distance: float | None  # null: α constant; else α is a dual holding the distillation at ε·σ_b²
    alpha_rate: float  # the dual's step on log α
    behaviour_beta: float  # > 0 (critic=iql): the multi-step policy is advantage-weighted, exp(β·A/σ_A) (GMPO's)
    behaviour_max_weight: float  # W_max of those weights
    behaviour_ema_decay: float | None  # null: μ_φ itself is the distillation target; else its moving average
    teacher_pairs: int | None  # null: Φ solved at every policy step; N: solved once for N (state, z) pairs


@schema
class VPScheduleConfig:
    _target_: str = "genrl.paths.VPSchedule"
    beta_0: float
    beta_1: float


@dataclass
class GVPScheduleConfig:
    _target_: str = "genrl.paths.GVPSchedule"


@dataclass
class VPSDEPathConfig:
    _target_: str = "genrl.paths.AffinePath"
    name: str = "vpsde"
    schedule: VPScheduleConfig = field(default_factory=VPScheduleConfig)


@dataclass
class GVPPathConfig:
    _target_: str = "genrl.paths.AffinePath"
    name: str = "gvp"
    schedule: GVPScheduleConfig = field(default_factory=GVPScheduleConfig)


@schema
class ICFMPathConfig:
    _target_: str = "genrl.paths.ICFMPath"
    name: str = "icfm"
    sigma: float


@dataclass
class NoPathConfig:
    """``path=none``: for algorithms with their own (non-generative) policy, e.g. ``algorithm=iql``."""

    name: str = "none"


# Each loader's schema owns the keys that name its data. A task sets them in conf/dataset_env/<dataset>_<env>.yaml,
# e.g. d4rl_hopper-medium-v2.yaml's `file_name: hopper_medium-v2.hdf5`; config_checks.check_dataset asks for them.


@schema
class D4RLDatasetConfig:
    _target_: str = "genrl.data.load_d4rl"
    name: str = "d4rl"
    path: str | None  # a local file; None: file_name from cache_dir, downloaded when absent
    file_name: str | None  # e.g. hopper_medium-v2.hdf5 (conf/dataset_env/d4rl_<task>.yaml)
    cache_dir: str | None  # None: $D4RL_DATASET_DIR, else ~/.d4rl/datasets
    base_url: str
    download: bool


@schema
class MinariDatasetConfig:
    _target_: str = "genrl.data.load_minari"
    name: str = "minari"
    dataset_id: str | None = None  # None: a one-line error at start (config_checks)
    download: bool  # true: fetch from the Minari server when not available locally


@dataclass
class NPZDatasetConfig:
    _target_: str = "genrl.data.load_npz"
    name: str = "npz"
    path: str | None = None  # None: a one-line error at start (config_checks)


# Keys that earlier versions wrote into run configs and checkpoints; dropped when an old run is loaded.
RETIRED_KEYS = {"env": ("d4rl_file", "minari_id", "npz_path")}
# Keys added since, with the value an earlier run had implicitly (before the critic= group, every critic was IQL's).
ADDED_KEYS = {"critic": {"name": "iql"}, "env": {"kwargs": {}}}


def upgraded_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run config recorded by an earlier genrl as this version writes it: retired keys dropped, added ones filled."""
    config = dict(config)
    for node, keys in RETIRED_KEYS.items():
        if isinstance(config.get(node), dict):
            config[node] = {k: v for k, v in config[node].items() if k not in keys}
    for node, added in ADDED_KEYS.items():
        if isinstance(config.get(node), dict):
            config[node] = {**added, **config[node]}
    return config


# ---------------------------------------------------------------------------------------------------------
# the primary config


@dataclass
class TaskConfig:
    name: str = MISSING
    eval_env_id: str | None = MISSING  # None: the dataset's evaluation env (Minari metadata)
    ref_min_score: Annotated[float, Range()] | None = None  # None: the dataset's reference scores (Minari)
    ref_max_score: Annotated[float, Range()] | None = None
    reward_transform: RewardTransform = RewardTransform.none  # locomotion | antmaze | none (spec §7)
    max_episode_steps: Count | None = None  # None: the eval env's own time limit
    kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments of gym.make for evaluation


@dataclass
class PhaseStepsConfig:
    """Exact gradient steps for a phase (null: from epochs × fraction)."""

    behaviour: Count | None = None
    critic: Count | None = None
    policy: Count | None = None


@dataclass
class BudgetConfig:
    name: str = MISSING
    fraction: Positive = 1.0
    steps: Count | None = None
    evaluations: Count = 100
    max_batch_size: Count | None = None
    phase_steps: PhaseStepsConfig = field(default_factory=PhaseStepsConfig)


@dataclass
class SamplingConfig:
    steps: Count = 31  # GRL's t_span = 32 grid points
    method: SamplingMethod = SamplingMethod.euler
    noise_scale: NonNegative = 1.0  # τ: initial noise N(0, τ²I); < 1 concentrates actions on the policy's modes
    candidates: Count = 1  # K actions per state scored by min(Q1, Q2); 1 = the reference protocol
    selection: Selection = Selection.argmax  # argmax | softmax (over score / (temperature·σ_A))
    temperature: Positive = 1.0


@dataclass
class EvalConfig:
    episodes: Count = 10
    final_episodes: Count = 10
    num_envs: Count | None = None  # None: all episodes side by side
    vectorization: Vectorization = Vectorization.sync
    clip_actions: bool = False
    seed_offset: Annotated[int, Range(0)] = 100_000  # episode i of every evaluation resets with seed + seed_offset + i


@dataclass
class LoggerConfig:
    wandb_mode: WandbMode = WandbMode.offline  # online | offline | disabled ($WANDB_MODE wins)
    project: str = "genrl"
    entity: str | None = None
    every_steps: Count = 100
    progress: bool = True


@dataclass
class CheckpointConfig:
    every_minutes: NonNegative = 10.0
    keep_phase_ends: bool = False  # also keep checkpoint.<phase>.pt as each phase ends (e.g. a trained critic)
    keep_evaluations: bool = False  # also keep checkpoint.<phase>-<step>.pt after each evaluation (checkpoint choice)


@dataclass
class FastConfig:
    """Speed switches (issue: speed). Defaults are the safe, exact choices."""

    tf32: bool = False  # TF32 matmuls on Ampere+ GPUs (≈3e-4 relative error per matmul)
    autocast: Autocast = Autocast.none  # none | bf16: mixed-precision network forwards (CUDA)
    compile: bool = False  # torch.compile the networks that are only differentiated once
    compile_mode: CompileMode = CompileMode.default  # default | reduce-overhead (CUDA graphs) | max-autotune
    fused_sampler: bool = False  # evaluation: one unrolled Euler loop (compiled with `compile`) instead of torchdiffeq


@dataclass
class Config:
    seed: Annotated[int, Range(0, 2**32 - 1)] = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    recipe_name: str = "reference"  # set by the recipe group: reference | fast
    normalize_observations: bool = False  # (s − mean)/std with the dataset's statistics, saved with the policy
    algorithm: Any = MISSING
    path: Any = MISSING
    dataset: Any = MISSING
    env: TaskConfig = field(default_factory=TaskConfig)
    net: NetConfig = field(default_factory=NetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    critic: Any = MISSING  # critic=iql | none (conf/critic/)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    fast: FastConfig = field(default_factory=FastConfig)


def register_configs() -> None:
    cs = ConfigStore.instance()
    base = OmegaConf.structured(Config)
    OmegaConf.set_struct(base.env.kwargs, False)  # env.kwargs are the env's own options: any name (checked at start)
    cs.store(name="base", node=base)
    for group, options in {
        "algorithm": {
            "gmpo": GMPOConfig, "gmpg": GMPGConfig, "bc": BCConfig, "iql": IQLConfig, "srpo": SRPOConfig,
            "dql": DQLConfig, "fql": FQLConfig,
        },
        "critic": {"iql": CriticConfig, "td": TDCriticConfig, "insupport": InSupportCriticConfig},
        "path": {"vpsde": VPSDEPathConfig, "gvp": GVPPathConfig, "icfm": ICFMPathConfig, "none": NoPathConfig},
        "dataset": {"d4rl": D4RLDatasetConfig, "minari": MinariDatasetConfig, "npz": NPZDatasetConfig},
    }.items():  # each option's YAML extends <option>_schema
        for name, node in options.items():
            cs.store(group=group, name=f"{name}_schema", node=node)
    _register_launcher_bases(cs)


def _register_launcher_bases(cs: ConfigStore) -> None:
    """Expose the submitit plugin's schemas under ``*_plugin`` so conf/hydra/launcher/submitit_*.yaml can extend
    them with genrl's defaults while keeping the plugin's names (``hydra/launcher=submitit_slurm``)."""
    try:
        from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf  # optional plugin
    except ImportError:  # the launcher plugin is optional at import time
        return
    for name, schema in (("submitit_slurm_plugin", SlurmQueueConf), ("submitit_local_plugin", LocalQueueConf)):
        # a plain copy: Hydra imports the plugin module under its own name, so its dataclass is not ours
        defaults = OmegaConf.to_container(OmegaConf.structured(schema))
        cs.store(group="hydra/launcher", name=name, node=defaults, provider="genrl")


# ---------------------------------------------------------------------------------------------------------
# resolvers


def asset_path(name: str) -> str:
    """Absolute path of a file bundled in ``genrl/assets``."""
    return str(resources.files("genrl") / "assets" / name)


#: The longest run folder name kept as it is (file systems allow 255 bytes a name); a longer one is shortened.
MAX_DIRNAME_BYTES = 200


def config_dirname(override_dirname: str) -> str:
    """A run folder name from Hydra's override dirname: ``default`` when empty, ``/`` made safe, and over
    :data:`MAX_DIRNAME_BYTES` its first 150 characters and a hash of the whole (``...-h<12 hex digits>``)."""
    name = re.sub(r"[/\\]", "_", override_dirname) or "default"
    if len(name.encode()) <= MAX_DIRNAME_BYTES:
        return name
    head = name.encode()[:150].decode(errors="ignore")
    return f"{head}-h{sha1(name.encode()).hexdigest()[:12]}"


def file_stem(path: str | None) -> str:
    """A task name from a dataset file: ``/data/mine.npz`` → ``mine`` (``custom`` when there is no file)."""
    return (PurePath(str(path)).stem or "custom") if path else "custom"


def greater_than(a: float, b: float) -> bool:
    return a > b


def register_resolvers() -> None:
    for name, fn in [("genrl.asset", asset_path), ("genrl.dirname", config_dirname), ("genrl.gt", greater_than),
                     ("genrl.stem", file_stem)]:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_configs()
register_resolvers()
