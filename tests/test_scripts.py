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
