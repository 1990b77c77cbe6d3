"""Probability paths: schedules and derivatives, marginals, endpoints, conversions (spec §1)."""

import math

import pytest
import torch

from genrl.paths import AffinePath, GVPSchedule, ICFMPath, LinearSchedule, VPSchedule

SCHEDULES = {"vpsde": VPSchedule(0.1, 20.0), "gvp": GVPSchedule(), "linear": LinearSchedule()}
PATHS = {"vpsde": AffinePath(VPSchedule()), "gvp": AffinePath(GVPSchedule()), "icfm": ICFMPath(0.1)}
INTERIOR = torch.linspace(0.01, 0.99, 57, dtype=torch.float64)


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_derivatives_match_autograd(name):
    t = INTERIOR.clone().requires_grad_(True)
    out = SCHEDULES[name](t)
    (d_alpha,) = torch.autograd.grad(out.alpha.sum(), t, retain_graph=True)
    (d_sigma,) = torch.autograd.grad(out.sigma.sum(), t)
    torch.testing.assert_close(out.d_alpha, d_alpha, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.d_sigma, d_sigma, rtol=1e-10, atol=1e-12)


def test_icfm_marginal_derivatives_match_autograd():
    t = INTERIOR.clone().requires_grad_(True)
    marg = ICFMPath(0.1).marginal(t)
    (d_std,) = torch.autograd.grad(marg.std.sum(), t)
    torch.testing.assert_close(marg.d_std, d_std)
    torch.testing.assert_close(marg.d_mean_scale, torch.ones_like(t))


def test_vpsde_matches_grl_diffusion_time_and_keeps_the_beta0_term():
    """genrl α(t) = GRL s(τ) at τ = 1 − t, and dα/dt = ½β(τ)α — GRL's d_scale_dt drops ½β0·s (spec §1.2)."""
    b0, b1 = 0.1, 20.0
    tau = 1 - INTERIOR
    grl_scale = torch.exp(-0.25 * (b1 - b0) * tau**2 - 0.5 * b0 * tau)
    out = VPSchedule(b0, b1)(INTERIOR)
    torch.testing.assert_close(out.alpha, grl_scale)
    torch.testing.assert_close(out.sigma, torch.sqrt(1 - grl_scale**2))
    grl_buggy_d_scale_dtau = -0.5 * (b1 - b0) * tau * grl_scale
    assert (out.d_alpha - (-grl_buggy_d_scale_dtau)).abs().min() > 0.5 * b0 * grl_scale.min() * 0.99
    torch.testing.assert_close(out.d_alpha, 0.5 * (b0 + (b1 - b0) * tau) * grl_scale)


def test_endpoints():
    vp = VPSchedule()(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert vp.alpha[0].item() == pytest.approx(0.00657, abs=5e-6)  # spec §1.2: s(1) = 0.00657
    assert vp.sigma[0].item() == pytest.approx(0.99998, abs=5e-6)
    assert vp.alpha[1].item() == 1.0 and vp.sigma[1].item() == 0.0
    gvp = GVPSchedule()(torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(gvp.alpha, torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(gvp.sigma, torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-15, rtol=0)
    icfm = ICFMPath(0.1).marginal(torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(icfm.mean_scale, torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(icfm.std, torch.tensor([math.sqrt(1.01), 0.1], dtype=torch.float64))


@pytest.mark.parametrize("name", PATHS)
def test_samples_follow_the_marginal(name):
    torch.manual_seed(0)
    path, n = PATHS[name], 200_000
    x_1 = torch.full((n, 1), 1.5, dtype=torch.float64)
    for t_val in (0.1, 0.5, 0.9):
        t = torch.full((n,), t_val, dtype=torch.float64)
        s = path.sample(torch.randn_like(x_1), x_1, t)
        marg = path.marginal(torch.tensor(t_val, dtype=torch.float64))
        assert s.x_t.mean().item() == pytest.approx(1.5 * marg.mean_scale.item(), abs=0.01)
        assert s.x_t.std().item() == pytest.approx(marg.std.item(), rel=0.01)


@pytest.mark.parametrize("name", ["vpsde", "gvp"])
def test_affine_velocity_target_is_the_time_derivative_of_x_t(name):
    path = PATHS[name]
    x_0, x_1 = torch.randn(64, 3, dtype=torch.float64), torch.randn(64, 3, dtype=torch.float64)
    t, h = torch.rand(64, dtype=torch.float64) * 0.9 + 0.05, 1e-6
    fd = (path.sample(x_0, x_1, t + h).x_t - path.sample(x_0, x_1, t - h).x_t) / (2 * h)
    torch.testing.assert_close(path.sample(x_0, x_1, t).dx_t, fd, rtol=1e-6, atol=1e-6)


def test_icfm_target_is_straight_line_velocity():
    torch.manual_seed(1)
    x_0, x_1 = torch.randn(32, 2), torch.randn(32, 2)
    s = ICFMPath(0.1).sample(x_0, x_1, torch.rand(32))
    torch.testing.assert_close(s.dx_t, x_1 - x_0)
    assert (s.x_t - ((1 - s.t[:, None]) * x_0 + s.t[:, None] * x_1)).std().item() == pytest.approx(0.1, rel=0.3)


@pytest.mark.parametrize("name", ["vpsde", "gvp"])
def test_noise_score_velocity_conversions(name):
    path = PATHS[name]
    x_0, x_1 = torch.randn(128, 4, dtype=torch.float64), torch.randn(128, 4, dtype=torch.float64)
    t = torch.rand(128, dtype=torch.float64) * 0.9 + 0.05
    s = path.sample(x_0, x_1, t)
    # The true noise converts to the true conditional velocity, exactly.
    torch.testing.assert_close(path.noise_to_velocity(x_0, s.x_t, t), s.dx_t)
    torch.testing.assert_close(path.velocity_to_noise(s.dx_t, s.x_t, t), x_0)
    torch.testing.assert_close(path.score_to_noise(path.noise_to_score(x_0, t), t), x_0)


@pytest.mark.parametrize("name", PATHS)
def test_training_times_stay_inside_the_open_data_end(name):
    path = PATHS[name]
    t = path.sample_time(100_000)
    assert t.min() >= path.t_min and t.max() < 1.0
    assert path.t_max == (1.0 if name == "icfm" else 1.0 - 1e-5)
