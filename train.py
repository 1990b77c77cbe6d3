"""genrl's single entry point: ``python train.py algorithm=gmpg path=gvp env=hopper-medium-v2 [key=value ...]``."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import genrl.config  # noqa: F401  (registers the config schemas and resolvers)
from genrl.errors import GenrlError
from genrl.experiment import run
from genrl.training.run_lock import run_lock


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    run_dir = HydraConfig.get().runtime.output_dir
    try:
        with run_lock(run_dir):  # one process per run folder
            results = run(cfg, run_dir)
    except GenrlError as err:  # a mistake in what the user supplied: one line, no traceback
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return results["score_final"]


if __name__ == "__main__":
    main()
