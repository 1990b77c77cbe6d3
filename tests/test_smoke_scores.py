"""Nothing changes for users: each smoke run's scores, learning curve, metrics and weights are bit-identical
to those recorded in tests/data/smoke_scores.json (``python tests/smoke_scores.py`` recorded them)."""

import json

import pytest

from smoke_scores import CASES, REFERENCE, smoke_scores

RECORDED = json.loads(REFERENCE.read_text())


def test_every_case_is_recorded():
    assert sorted(RECORDED) == sorted(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_smoke_run_is_bit_identical_to_the_recording(tmp_path, name):
    assert smoke_scores(name, tmp_path) == RECORDED[name]
