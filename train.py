"""genrl's single entry point: ``python train.py algorithm=gmpg path=gvp env=hopper-medium-v2 [key=value ...]``.

A mistake in what the user supplied (a config value, a data file, a run folder in use) is one line on stderr,
``error: ...``, and exit status 2; a refused run writes nothing into its run folder (``.hydra/`` included: Hydra's
``output_subdir`` is null in conf/config.yaml and the files are written here once the run is accepted).
"""

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import genrl.config  # noqa: F401  (registers the config schemas and resolvers)
from genrl.config_checks import composition_error_line
from genrl.errors import GenrlError, one_line
from genrl.io import write_text
from genrl.run_folder import CONFIG_FILE, HYDRA_SUBDIR
from genrl.running import run

_USER_WANTS_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"
_in_task = False  # True while the task function runs: its own exceptions are not composition errors


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    global _in_task
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    _in_task = True
    try:
        results = run(cfg, run_dir, list(hydra_cfg.overrides.task), on_accept=lambda: save_hydra_files(cfg, run_dir))
    except GenrlError as err:  # a mistake in what the user supplied: one line, no traceback
        print(f"error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    _in_task = False  # (a multirun composes the next job now)
    return results["score_final"]


def save_hydra_files(cfg: DictConfig, run_dir: Path) -> None:
    """Hydra's ``.hydra/{config,hydra,overrides}.yaml``, as Hydra writes them, for an accepted run only."""
    hydra_root = HydraConfig.instance().cfg  # {"hydra": ...}
    if hydra_root.hydra.output_subdir is not None:  # the user asked Hydra to write them itself
        return
    out = run_dir / HYDRA_SUBDIR
    write_text(OmegaConf.to_yaml(cfg), out / CONFIG_FILE)
    write_text(OmegaConf.to_yaml(hydra_root), out / "hydra.yaml")
    write_text(OmegaConf.to_yaml(hydra_root.hydra.overrides.task), out / "overrides.yaml")


def choose_custom_task(argv: list[str]) -> list[str]:
    """``dataset.path=FILE`` without ``env=...`` is a task of its own: ``env=custom`` (conf/env/custom.yaml: named
    after the file, evaluated on ``env.eval_env_id``, raw returns unless reference returns are given, no other
    task's tuning), never the default demo task's reference returns, name and tuning."""
    overrides = [a for a in argv[1:] if not a.startswith("-")]
    names = {a.split("=", 1)[0].lstrip("+~") for a in overrides if "=" in a}
    if "dataset.path" in names and "env" not in names:
        return [*argv, "env=custom"]
    return argv


def cli() -> None:
    """Hydra's composition errors (a typo'd key or option, a value of the wrong type or not among the allowed
    choices, bad override syntax) as one line and exit status 2, like genrl's own errors. ``HYDRA_FULL_ERROR=1``
    set by the user still gives Hydra's full traceback."""
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing a multi-line report
    sys.argv = choose_custom_task(sys.argv)
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        if _USER_WANTS_FULL_ERROR or _in_task:
            raise
        print(f"error: {composition_error_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    cli()
