"""Every script in scripts/ imports and answers ``--help`` (nothing else imports them)."""

import subprocess
import sys

import pytest

from conftest import REPO, SUBPROCESS_ENV

SCRIPTS = sorted(p for p in (REPO / "scripts").iterdir() if p.suffix in (".py", ".sh"))


def test_the_scripts_are_found():
    assert {"bench_grad_steps.py", "report.py", "device_check.sh"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_script_answers_help(script):
    command = [sys.executable] if script.suffix == ".py" else ["bash"]
    proc = subprocess.run([*command, str(script), "--help"], cwd=REPO, env=SUBPROCESS_ENV, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    if script.suffix == ".py":  # argparse's help
        assert proc.stdout.startswith("usage: "), proc.stdout[:200]
    else:  # the header comment, as usage text
        assert script.read_text().splitlines()[1].lstrip("# ") in proc.stdout


def test_the_grid_keeps_one_row_per_seed_and_names_exact_reruns(capsys):
    """A rerun of a cell (same task, algorithm, path, seed) is a check, not another seed: an exact rerun is named on
    the first row, a differing one is reported; the table's n counts seeds."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from grid_results import first_of_each_seed
    finally:
        sys.path.remove(str(REPO / "scripts"))
    cell = {"env": "hopper-v5-medium", "algorithm": "gmpo", "path": "gvp", "critic": "iql"}
    rows = [{**cell, "seed": 0, "score_final": 67.42143694615226, "source": "a:22"},
            {**cell, "seed": 1, "score_final": 69.3, "source": "a:23"},
            {**cell, "seed": 0, "score_final": 67.42143694615226, "source": "b:7"},
            {**cell, "seed": 1, "score_final": 69.2, "source": "b:8"},
            {**cell, "critic": "td", "seed": 1, "score_final": 40.0, "source": "c:1"}]  # fmt: skip
    kept = first_of_each_seed(rows)
    assert [(r["seed"], r["source"], r.get("reproduced_by")) for r in kept] == [
        (0, "a:22", ["b:7"]), (1, "a:23", None), (1, "c:1", None)]  # another critic: another cell, not a rerun
    assert "rerun b:8 of a:23 scores 69.2 against 69.3" in capsys.readouterr().err
