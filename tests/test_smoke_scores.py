"""Nothing changes for users: each smoke run's scores, learning curve, metrics and weights are bit-identical
to those recorded in tests/data/smoke_scores.json (``python tests/smoke_scores.py`` records them).

Bit-identity holds on the machine a recording was made on. Elsewhere the CPU's kernels round differently (measured:
scores differ by ~1e-10 relative between an AVX-512 and another machine, weights by a few ulp), so there the
scores, returns and curves must agree to 1e-6 relative and everything that is not a float exactly — far tighter
than any change of an algorithm, and it says which comparison ran.
"""

import math

import pytest

from smoke_scores import CASES, machine, recordings, smoke_scores

RECORDINGS = recordings()
HERE = next((r for r in RECORDINGS if r["machine"] == machine()), None)
DIGESTS = ("metrics_sha256", "checkpoint_sha256")


def test_every_case_is_recorded():
    assert RECORDINGS and all(sorted(r["scores"]) == sorted(CASES) for r in RECORDINGS)


def close(got: object, want: object) -> bool:
    """Equal, floats to 1e-6 relative (recursively through lists and dicts)."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(close(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
    return got == want


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_smoke_run_matches_the_recording(tmp_path, name):
    got = smoke_scores(name, tmp_path)
    if HERE is not None:  # recorded on this machine: bit for bit
        assert got == HERE["scores"][name]
    else:  # another machine: floats to 1e-6 relative, the rest exactly, digests of raw bytes not comparable
        want = RECORDINGS[-1]["scores"][name]
        assert close(without_digests(got), without_digests(want)), (without_digests(got), without_digests(want))


def without_digests(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if k not in DIGESTS}


def test_close_tells_a_changed_score_from_rounding():
    assert close({"s": [1.0, 2.0 + 1e-9]}, {"s": [1.0, 2.0]})
    assert not close({"s": [1.0, 2.001]}, {"s": [1.0, 2.0]})
    assert not close({"steps": 7}, {"steps": 6})
