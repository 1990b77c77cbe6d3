"""Assemble issue 21's evidence grid from the raw results in docs/results into one JSONL that genrl-report tables.

    python scripts/grid_results.py > docs/results/grid-fast.jsonl
    genrl-report docs/results/grid-fast.jsonl --metric score_final --stats \
        --compare GMPO-GVP:IQL --compare GMPO-GVP:BC-GVP

The grid is `recipe=fast` on the four shared datasets × {GMPO-VPSDE, GMPO-GVP, GMPO-ICFM, GMPG-GVP, BC-GVP, IQL} ×
seeds 0-2, each run as the recipe acts. The runs were made in several sessions, so :data:`SOURCES` names, per file,
which lines are recipe runs (the files also hold ablations). Two kinds of row need a note:

* GMPO runs trained with K = 16 candidates before the recipe chose K = 1 for GMPO (hopper, 2026-11-26): their
  recipe score is the paired re-evaluation of the same final checkpoint at K = 1 (30 episodes on the run's own
  final-evaluation seeds; training does not depend on K), from ``selection-2026-11-26.jsonl``. Such a row keeps
  the training row's fields, with ``sampling`` and ``score_final`` of the re-evaluation and ``score_best`` set to
  the same value (there is no K = 1 learning curve): table these with ``--metric score_final``.
* Rows written before results.json recorded ``critic`` (2026-12-06) are GMPO, GMPG, BC and IQL runs, which all
  learnt from IQL's critic, the only one there was: they get ``"critic": "iql"`` (genrl-report compares ``critic``,
  so Diffusion-QL's TD and in-sample runs are separate columns).
* Older rows lack ``dataset_fingerprint``; every row's fingerprint is dropped so that one task's runs share a cell
  (the four files in ../shared/datasets have not changed since they were made), and ``ablation`` is dropped (every
  row here is the recipe's).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
#: file → 1-based line numbers of recipe runs ("none": every row whose ablation is "none").
SOURCES: dict[str, list[int] | str] = {
    # hopper-v5-medium-replay BC-GVP, GMPG-GVP; hopper-v5-medium BC-GVP, GMPG-GVP, GMPO-GVP (K = 1), IQL
    "quality-2026-11-26.jsonl": [1, 2, 3, 4, 5, 6, 16, 17, 18, 19, 20, 21, 22, 23, 24, 37, 38, 39],
    "quality-2026-11-27.jsonl": [1, 2, 3],  # hopper-v5-medium-replay IQL
    "ablations-2026-12-04.jsonl": [4, 9],  # GMPO-GVP seed 0 on halfcheetah and walker2d
    "s29-2026-12-05.jsonl": [1, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14],  # walker2d GMPG, BC, IQL, SRPO; GMPG s0 halfcheetah
    "s30-2026-12-06.jsonl": "none",
    "s31-2026-12-06.jsonl": "none",  # GMPO-VPSDE/ICFM halfcheetah; SfBC, IDQL, QGPO on walker2d and halfcheetah
    "s33-2026-12-06.jsonl": "none",  # the prior work under its 2026-12-06 recipe files
    "s33n-2026-12-06.jsonl": "none",  # QGPO under its 2026-12-06 recipe file (β = 0.3, SfBC's critic)
    "s34-2026-12-07.jsonl": "none",  # seeds 1-2 and the tasks not yet run; Diffusion-QL with its warm start
    "s34-qgpo-qnorm-2026-12-07.jsonl": [1, 2, 3],  # QGPO seed 0 at β = 0.8 σ_Q: its recipe file from 2026-12-07
    "s35-2026-12-07.jsonl": "none",  # QGPO at β = 0.8 σ_Q; IDQL walker2d; FQL hopper sets; GMPO-GVP hopper rerun
    "s36-2026-12-07.jsonl": "none",  # GMPO-GVP seed-0 reruns (distillation teachers); QGPO hopper-replay seeds 1-2
    "prior-work-s39-2026-12-08.jsonl": "none",  # IDQL halfcheetah seeds 1-2
    "s40-2026-12-08.jsonl": "none",  # IDQL seeds 1-2; Diffusion-QL in-sample (critic=iql); SfBC hopper-replay 1-2
}
#: file → algorithms whose rows there ran an earlier recipe file, replaced on 2026-12-06 (docs/algorithms.md): SfBC's
#: and QGPO's critic at α = 1 (diverged), IDQL without a recipe file (lr 1e-4, no EMA, K = 16 argmax), SRPO at b = 0.
#: Left out of the tables unless --superseded.
SUPERSEDED = {
    "s29-2026-12-05.jsonl": {"srpo"},
    "s31-2026-12-06.jsonl": {"sfbc", "idql", "qgpo"},
    "s33-2026-12-06.jsonl": {"qgpo", "dql"},  # QGPO: β = 3 and the first fast critic; DQL: no warm start (2026-12-07)
    "s33n-2026-12-06.jsonl": {"qgpo"},  # QGPO at β = 0.3 in Q's units (its file until 2026-12-07: β = 0.8 σ_Q)
    "s34-2026-12-07.jsonl": {"qgpo"},
}
#: selection-2026-11-26.jsonl lines (K = 1 re-evaluations) standing for GMPO runs trained with K = 16.
REEVALUATED = {
    "hopper-v5-medium-replay": [7, 9, 11, 13, 15, 17, 19, 21, 23],  # GMPO-GVP, -ICFM, -VPSDE
    "hopper-v5-medium": [43, 45, 47, 49, 51, 53],  # GMPO-ICFM, -VPSDE (GMPO-GVP was trained with K = 1)
}
#: genrl-eval summaries (one per line) of finished runs re-evaluated at acting settings their recipe file took later
#: (training does not read them): each stands for the training row of the same cell, as REEVALUATED does.
ACTING_REEVALUATIONS = {
    "qgpo-noise-2026-12-07.jsonl": "QGPO's file acts at noise 0.5 from 2026-12-07 (1.0 before)",
}
GRID = {("gmpo", "vpsde"), ("gmpo", "gvp"), ("gmpo", "icfm"), ("gmpg", "gvp"), ("bc", "gvp"), ("iql", "none")}
#: issue 23's columns (``--prior-work``): the benchmark's prior work as genrl runs it under ``recipe=fast``.
PRIOR_WORK = {("sfbc", "gvp"), ("idql", "gvp"), ("qgpo", "vpsde"), ("dql", "gvp"), ("srpo", "gvp")}
DROPPED = ("dataset_fingerprint", "ablation", "run", "dataset")
#: the algorithms whose rows may predate results.json's ``critic`` field: each learnt from IQL's critic then.
IQL_BEFORE_CRITIC_FIELD = ("gmpo", "gmpg", "bc", "iql")


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (RESULTS / name).read_text().splitlines() if line.strip()]


def recipe_rows(columns: set[tuple[str, str]] = GRID, superseded: bool = False) -> list[dict]:
    out = []
    for name, lines in SOURCES.items():
        if not (RESULTS / name).exists():
            continue
        for number, row in enumerate(rows(name), 1):
            if not superseded and row["algorithm"] in SUPERSEDED.get(name, ()):
                continue
            if (lines == "none" and row.get("ablation") == "none") or (lines != "none" and number in lines):
                out.append({**with_critic(row, f"{name}:{number}"), "source": f"{name}:{number}"})
    trained = {(r["env"], r["algorithm"], r["path"], r["seed"]): r for r in rows("quality-2026-11-26.jsonl")
               if r["sampling"]["candidates"] == 16}  # fmt: skip
    selection = rows("selection-2026-11-26.jsonl")
    for env, lines in REEVALUATED.items():
        for number in lines:
            again = selection[number - 1]
            run = Path(again["run_dir"])
            algorithm, path = run.parts[-3].split("-")
            seed = int(run.name.removeprefix("seed="))
            row = trained[(env, algorithm, path, seed)]
            row = with_critic(row, f"quality-2026-11-26.jsonl ({run})")
            out.append({**row, "sampling": again["sampling"], "score_final": again["score"],
                        "score_final_std": again["score_std"], "score_best": again["score"], "curve": None,
                        "source": f"selection-2026-11-26.jsonl:{number} (re-evaluation at K = 1)"})  # fmt: skip
    out = with_acting_reevaluations(out)
    kept = [{k: v for k, v in r.items() if k not in DROPPED} for r in out if (r["algorithm"], r["path"]) in columns]
    return first_of_each_seed(kept)


def with_critic(row: dict, source: str) -> dict:
    """The row with its ``critic``: recorded, or IQL's for a row that predates the field."""
    if "critic" in row:
        return row
    if row["algorithm"] not in IQL_BEFORE_CRITIC_FIELD:
        raise ValueError(f"{source}: algorithm={row['algorithm']} without a recorded critic")
    return {**row, "critic": "iql"}


def with_acting_reevaluations(table: list[dict]) -> list[dict]:
    """Each row of a cell (task, algorithm, path, seed) that ACTING_REEVALUATIONS re-evaluated takes the
    re-evaluation's sampling and score (``score_best`` too: there is no learning curve at the new setting)."""
    again = {}
    for name in ACTING_REEVALUATIONS:
        for number, summary in enumerate(rows(name), 1):
            run = Path(summary["run_dir"])
            algorithm, path = run.parts[-3].split("-")
            key = (summary["env"], algorithm, path, int(run.name.removeprefix("seed=")))
            again[key] = {"sampling": summary["sampling"], "score_final": summary["score"],
                          "score_final_std": summary["score_std"], "score_best": summary["score"], "curve": None,
                          "source": f"{name}:{number} (re-evaluation: {ACTING_REEVALUATIONS[name]})"}  # fmt: skip
    return [{**r, **again.get((r["env"], r["algorithm"], r["path"], r["seed"]), {})} for r in table]


def first_of_each_seed(rows: list[dict]) -> list[dict]:
    """One row per (task, algorithm, path, critic, seed): a later row of the same cell is a rerun that checks the
    first (same code path, same seed), not another seed. The first is kept with ``reproduced_by`` naming reruns
    that give the same score_final to the last digit; a rerun that differs is reported on stderr."""
    first: dict[tuple, dict] = {}
    for row in rows:
        key = (row["env"], row["algorithm"], row["path"], row["critic"], row["seed"])
        if key not in first:
            first[key] = row
        elif row["score_final"] == first[key]["score_final"]:
            first[key].setdefault("reproduced_by", []).append(row["source"])
        else:
            print(f"rerun {row['source']} of {first[key]['source']} scores {row['score_final']} against "
                  f"{first[key]['score_final']}; the first is kept", file=sys.stderr)  # fmt: skip
    return list(first.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior-work", action="store_true",
                        help="add issue 23's columns: SfBC-GVP, IDQL-GVP, QGPO-VPSDE, DQL-GVP, SRPO-GVP")  # fmt: skip
    parser.add_argument("--tasks", nargs="+", metavar="ENV", help="only these tasks (env names)")
    parser.add_argument("--superseded", action="store_true", help="keep the rows of replaced recipe files")
    args = parser.parse_args(argv)
    columns = GRID | PRIOR_WORK if args.prior_work else GRID
    rows = [r for r in recipe_rows(columns, args.superseded) if not args.tasks or r["env"] in args.tasks]
    for row in sorted(rows, key=lambda r: (r["env"], r["algorithm"], r["path"], r["seed"])):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
