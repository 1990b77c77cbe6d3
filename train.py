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
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import genrl.config  # noqa: F401  (registers the config schemas and resolvers)
from genrl.config_checks import composition_error_line
from genrl.errors import ConfigError, GenrlError, one_line
from genrl.io import closed_pipe_safe, write_json, write_text
from genrl.run_folder import CONFIG_FILE, FAILED_JOBS_DIR, HYDRA_SUBDIR, failed_job_file
from genrl.running import run

_USER_WANTS_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR") == "1"
_in_task = False  # True while the task function runs: its own exceptions are not composition errors
_jobs: list[Path] = []  # the run folders of this process's jobs (a sweep has several)
_failed: list[Path] = []  # those of a sweep's jobs that failed their checks


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    global _in_task
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    sweep = Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None
    _in_task = True
    _jobs.append(run_dir)
    try:
        check_choices(dict(hydra_cfg.runtime.choices))
        results = run(cfg, run_dir, overrides, on_accept=lambda: save_hydra_files(cfg, run_dir))
    except GenrlError as err:  # a mistake in what the user supplied: one line, no traceback
        print(f"error: {one_line(err)}", file=sys.stderr)
        if sweep is None:
            raise SystemExit(2) from None
        # in a sweep the other jobs still run: this one is recorded as failed (the sweep's exit status says so)
        write_json({"run_dir": str(run_dir), "overrides": overrides, "error": one_line(err)},
                   failed_job_file(sweep, run_dir))  # fmt: skip
        _failed.append(run_dir)
        _in_task = False
        return None
    if sweep is not None:
        failed_job_file(sweep, run_dir).unlink(missing_ok=True)  # an earlier failure of this job, now fixed
    _in_task = False  # (a multirun composes the next job now)
    return results["score_final"]


def check_choices(choices: dict[str, str | None]) -> None:
    """``algorithm=gmpo_schema``: the schemas the options extend are not options."""
    for group, choice in choices.items():
        if choice and str(choice).endswith("_schema") and not group.startswith("hydra"):
            options = sorted(p.stem for p in (_CONF / group).glob("*.yaml"))
            raise ConfigError(f"{group}={choice}: an internal schema, not an option; one of {', '.join(options)}")


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


#: The groups a user chooses from (group=option), with what each selects; the others are chosen automatically.
USER_GROUPS = {
    "algorithm": "the algorithm and its optimisers",
    "path": "the probability path of a generative policy",
    "critic": "the critic the algorithm learns from",
    "env": "the task: evaluation env, reference returns, reward transform",
    "dataset": "the loader (dataset.path=FILE, dataset.file_name=NAME, dataset.dataset_id=ID)",
    "recipe": "the published protocol, or minutes on a CPU",
    "budget": "sizes only: phase lengths, batches, evaluations",
    "logger": "where metrics go besides metrics.jsonl",
    "hydra/launcher": "where a sweep's jobs run (-m ...)",
}
AUTOMATIC_GROUPS = ("tuning", "dataset_env", "algorithm_path", "algorithm_recipe", "budget_algorithm")
_CONF = Path(__file__).resolve().parent / "conf"


def usage() -> str:
    """``python train.py --help``: genrl's own usage (Hydra's is ``--hydra-help``)."""
    lines = [
        "usage: python train.py [group=option ...] [key=value ...]    one run (re-running it resumes)",
        "       python train.py -m key=a,b seed=0,1,2 [...]            a sweep, one run folder per job",
        "",
        "examples:",
        "  python train.py                                              GMPO-GVP on the bundled demo (~3 min)",
        "  python train.py algorithm=gmpg path=icfm env=hopper-medium-v2 seed=3",
        "  python train.py dataset.path=mine.npz env.eval_env_id=Hopper-v4   your own data: task 'mine', raw returns",
        "  python train.py --cfg job algorithm=bc                       print the composed config, run nothing",
        "",
        "groups (group=option):",
    ]
    for group, what in USER_GROUPS.items():
        options = sorted(p.stem for p in (_CONF / group).glob("*.yaml"))
        lines.append(f"  {group:<15}{', '.join(options)}")
        lines.append(f"  {'':<15}  {what}")
    lines += [
        f"chosen automatically from the groups above: {', '.join(AUTOMATIC_GROUPS)} (conf/<group>/)",
        "",
        "options: any key of the config (net.hidden_sizes=[256,128], critic.expectile=0.8, eval.episodes=100,",
        "  device=cuda:1, ...); a typo, a value out of range or a bad file is one line before anything runs.",
        "  --cfg job prints the config, --hydra-help Hydra's own options.",
        "",
        "then: genrl-eval RUN_DIR (evaluate a run's policy), genrl-report RUNS_DIR (tables and plots).",
        "docs: README.md, docs/ (architecture, algorithms, benchmarks, slurm, gpu, diagnostics).",
    ]
    return "\n".join(lines)


def cli() -> None:
    """Hydra's composition errors (a typo'd key or option, a value of the wrong type or not among the allowed
    choices, bad override syntax) as one line and exit status 2, like genrl's own errors. ``HYDRA_FULL_ERROR=1``
    set by the user still gives Hydra's full traceback."""
    if any(arg in ("--help", "-h") for arg in sys.argv[1:]):
        closed_pipe_safe(lambda: print(usage()) or 0)()  # `python train.py --help | head` ends quietly
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing a multi-line report
    sys.argv = choose_custom_task(sys.argv)
    try:
        main()
        if _failed:
            print(
                f"error: {len(_failed)} of {len(_jobs)} jobs of the sweep failed their checks (one line each above; "
                f"recorded in the sweep folder's {FAILED_JOBS_DIR}/, which genrl-report counts)",
                file=sys.stderr,
            )
            raise SystemExit(2)
    except (HydraException, OmegaConfBaseException) as err:
        if _USER_WANTS_FULL_ERROR or _in_task:
            raise
        print(f"error: {composition_error_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    cli()
