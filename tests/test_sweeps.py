"""Seed sweeps with Hydra's basic launcher (always runs), then genrl-report on the sweep (issue: sweeps)."""

import pytest

from conftest import compose_config
from sweeps import SWEEP_ARGS, assert_report_equals_aggregates, multirun


@pytest.mark.slow
def test_basic_launcher_sweep_puts_seeds_side_by_side_and_the_report_equals_the_aggregates(tmp_path):
    sweep = tmp_path / "sweep"
    multirun([*SWEEP_ARGS, f"hydra.sweep.dir={sweep}"], tmp_path)
    assert_report_equals_aggregates(sweep)


def test_run_dirs_are_deterministic_so_a_rerun_resumes():
    cfg = compose_config(["algorithm=gmpg", "seed=4"], return_hydra_config=True)
    assert cfg.hydra.run.dir.startswith("runs/")
    assert "${now" not in str(cfg.hydra.run.dir) and "${now" not in str(cfg.hydra.sweep.subdir)
    assert cfg.hydra.job.config.override_dirname.exclude_keys[0] == "seed"
