"""One source per default: a config schema with a genrl ``_target_`` takes every default its constructor has.

The schemas in ``genrl/config.py`` are generated from the constructors (``genrl.config.schema``): they add the typed
choices Hydra checks at composition and defaults for arguments a constructor requires, and never restate a
constructor's default. (Third-party targets, e.g. ``torch.optim.Adam``, are genrl's own choices, not mirrors.)
"""

import dataclasses
import inspect

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

import genrl.config
from genrl.config import Config, Estimator, schema, upgraded_config

SCHEMAS = sorted(
    (obj for obj in vars(genrl.config).values() if isinstance(obj, type) and dataclasses.is_dataclass(obj)),
    key=lambda schema: schema.__name__,
)
TARGETED = [s for s in SCHEMAS if str(getattr(s, "_target_", "")).startswith("genrl.")]


def test_every_schema_with_a_genrl_target_is_checked():
    assert {s.__name__ for s in TARGETED} >= {
        "NetConfig", "CriticConfig", "GMPOConfig", "GMPGConfig", "BCConfig", "IQLConfig", "GaussianPolicyConfig",
        "VPScheduleConfig", "ICFMPathConfig", "D4RLDatasetConfig", "MinariDatasetConfig", "NPZDatasetConfig",
        "SRPOConfig", "DeterministicPolicyConfig", "DQLConfig", "TDCriticConfig",
    }  # fmt: skip


@pytest.mark.parametrize("schema_type", TARGETED, ids=lambda s: s.__name__)
def test_no_schema_restates_a_constructor_default(schema_type):
    parameters = inspect.signature(get_object(schema_type._target_)).parameters
    with_default = {n for n, p in parameters.items() if p.default is not inspect.Parameter.empty}
    declared = {f.name for f in dataclasses.fields(schema_type)}
    assert declared & with_default == set(getattr(schema_type, "FROM_SIGNATURE", ()))


@pytest.mark.parametrize("schema_type", TARGETED, ids=lambda s: s.__name__)
def test_every_schema_default_a_run_gets_is_the_constructors(schema_type):
    """Through OmegaConf (typed fields, enums as strings), as a composed config hands it to the constructor."""
    parameters = inspect.signature(get_object(schema_type._target_)).parameters
    composed = OmegaConf.to_container(OmegaConf.structured(schema_type), enum_to_str=True)
    for name in getattr(schema_type, "FROM_SIGNATURE", ()):
        default = parameters[name].default
        assert composed[name] == (list(default) if isinstance(default, tuple) else default), name


def test_a_generated_field_is_a_typed_choice_and_a_list_is_fresh_per_instance():
    first, second = genrl.config.GMPGConfig(), genrl.config.GMPGConfig()
    assert first.estimator is Estimator.exact and first.grad_steps == 32
    first_net = genrl.config.NetConfig()
    first_net.hidden_sizes.append(1)
    assert genrl.config.NetConfig().hidden_sizes == [512, 256, 128] and second.batch_size == 40960


def test_a_field_without_any_default_is_an_error_naming_it():
    class Broken:
        _target_: str = "genrl.algorithms.GMPO"
        beta: float

    with pytest.raises(TypeError, match=r"Broken\.beta: no value here and no default in genrl\.algorithms\.GMPO"):
        schema(Broken)


def test_a_run_config_from_an_earlier_version_still_loads():
    old = OmegaConf.to_container(OmegaConf.structured(Config))
    old["env"].update(d4rl_file="hopper_medium-v2.hdf5", minari_id=None, npz_path=None)
    with pytest.raises(Exception, match="d4rl_file"):
        OmegaConf.merge(OmegaConf.structured(Config), old)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), upgraded_config(old))
    assert "d4rl_file" not in cfg.env and cfg.env == OmegaConf.structured(Config).env
