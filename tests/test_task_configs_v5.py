"""The Gymnasium-v5 benchmark tasks compose from their body's family file with the v5 evaluation env."""

import pytest
from omegaconf import OmegaConf

from conftest import compose_config

TASKS = {  # task: (eval env, D4RL reference min, max, GMPO β of the D4RL task it inherits)
    "hopper-v5-medium": ("Hopper-v5", -20.272305, 3234.3, 16.0),
    "halfcheetah-v5-medium": ("HalfCheetah-v5", -280.178953, 12135.0, 8.0),
    "walker2d-v5-medium": ("Walker2d-v5", 1.629008, 4592.3, 8.0),
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_v5_task_names_its_eval_env_and_reference_returns(task):
    eval_env, ref_min, ref_max, beta = TASKS[task]
    cfg = compose_config([f"env={task}"])
    assert (cfg.env.name, cfg.env.eval_env_id) == (task, eval_env)
    assert (cfg.env.ref_min_score, cfg.env.ref_max_score) == (ref_min, ref_max)
    assert cfg.env.reward_transform == "locomotion"
    assert OmegaConf.select(cfg, "dataset.file_name") is None  # no download: dataset.path names the file
    assert cfg.algorithm.beta == beta  # recipe=reference: the D4RL task's tuning


@pytest.mark.parametrize("task", sorted(TASKS))
def test_recipe_fast_has_no_per_task_numbers(task):
    """Under recipe=fast the advantage unit and β come from the recipe alone: the same on every task."""
    cfg = compose_config([f"env={task}", "recipe=fast"])
    assert (cfg.algorithm.advantage_normalization, cfg.algorithm.beta) == ("std", 1.0)
