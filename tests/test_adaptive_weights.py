"""The advantage unit chosen from the data (genrl/critics/advantage_scale.py): known answers on synthetic data."""

from __future__ import annotations

import math

import pytest
import torch

from genrl.critics.advantage_scale import advantage_scale, effective_sample_fraction, ess_temperature


def test_effective_sample_fraction_bounds():
    assert effective_sample_fraction(torch.zeros(1000)) == pytest.approx(1.0)
    one_dominates = torch.tensor([0.0] * 999 + [200.0])  # exp(200): no overflow in log space
    assert effective_sample_fraction(one_dominates) == pytest.approx(1 / 1000, rel=1e-9)
    two_levels = torch.log(torch.tensor([1.0] * 500 + [3.0] * 500))  # (Σw)²/(nΣw²) = 2000²/(1000·5000)
    assert effective_sample_fraction(two_levels) == pytest.approx(0.8)


@pytest.mark.parametrize("target", [0.2, 0.37, 0.6])
def test_gaussian_advantages_reach_the_analytic_temperature(target):
    """A ~ N(0, s²): E[e^{A/T}]² / E[e^{2A/T}] = exp(−s²/T²), so ESS/n = target at T = s/√(−ln target)."""
    s = 2.5
    adv = s * torch.randn(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    temperature = ess_temperature(adv, target)
    assert temperature == pytest.approx(s / math.sqrt(-math.log(target)), rel=0.02)
    assert effective_sample_fraction(adv / temperature) == pytest.approx(target, rel=1e-4)


def test_the_rule_is_invariant_to_the_reward_scale():
    """Rewards × 10 multiply A by 10: the temperature scales with them and the weights are unchanged."""
    adv = torch.distributions.Gumbel(0.0, 1.0).sample((50_000,)).double()
    for rule in ("std", "ess"):
        base, scaled = advantage_scale(adv, rule, 0.3), advantage_scale(10 * adv, rule, 0.3)
        assert scaled == pytest.approx(10 * base, rel=1e-5)
        assert torch.allclose(adv / base, 10 * adv / scaled, rtol=1e-5)
    assert advantage_scale(adv, "none") == 1.0


def test_a_heavy_tail_gets_a_higher_temperature_than_its_std():
    """Same σ_A, one shape with a heavy right tail: σ_A-units give it a much lower ESS; the ESS rule does not."""
    g = torch.Generator().manual_seed(1)
    gaussian = torch.randn(200_000, generator=g, dtype=torch.float64)
    tail = torch.where(torch.rand(200_000, generator=g) < 0.01, 8.0, 0.0).double()
    heavy = gaussian * 0.5 + tail
    heavy = heavy / heavy.std()
    assert effective_sample_fraction(heavy) < 0.5 * effective_sample_fraction(gaussian)  # same σ, far fewer kept
    for adv in (gaussian, heavy):
        t = advantage_scale(adv, "ess", 0.3)
        assert effective_sample_fraction(adv / t) == pytest.approx(0.3, rel=1e-4)
    assert advantage_scale(heavy, "ess", 0.3) > 1.5 * advantage_scale(gaussian, "ess", 0.3)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_targets_outside_the_open_interval_are_refused(bad):
    with pytest.raises(ValueError, match="effective sample fraction"):
        ess_temperature(torch.randn(100), bad)


def test_constant_advantages_are_refused():
    with pytest.raises(ValueError, match="constant"):
        advantage_scale(torch.ones(100), "ess", 0.3)
