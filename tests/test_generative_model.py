"""GenerativeModel against closed forms: sampling moments, exact log-densities, gradients (spec §2)."""

import pytest
import torch

from gaussian_flows import OptimalNet, gaussian_log_prob, pushforward_moments
from genrl.models import GenerativeModel
from genrl.networks import TemporalSpatialResidualNet
from genrl.paths import AffinePath, GVPSchedule, ICFMPath, VPSchedule

M = torch.tensor([1.0, -2.0], dtype=torch.float64)
C = torch.tensor([0.25, 2.0], dtype=torch.float64)
CASES = {
    "gvp-velocity": (AffinePath(GVPSchedule()), "velocity"),
    "vpsde-velocity": (AffinePath(VPSchedule()), "velocity"),
    "vpsde-noise": (AffinePath(VPSchedule()), "noise"),
    "icfm-velocity": (ICFMPath(0.1), "velocity"),
}


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def optimal_model(case: str) -> GenerativeModel:
    path, param = CASES[case]
    return GenerativeModel(OptimalNet(path, M, C, output=param), path, param)


def exact_target(case: str):
    model = optimal_model(case)
    return pushforward_moments(model.path, M, C, t_end=model.t_end)


def test_gvp_pushforward_is_exactly_the_target():
    """GVP starts at exactly N(0, I), so the optimal flow's pushforward is N(m, C) itself."""
    mean, var = exact_target("gvp-velocity")
    torch.testing.assert_close(mean, M, atol=1e-8, rtol=0)
    torch.testing.assert_close(var, C, atol=1e-8, rtol=0)


@pytest.mark.parametrize("case", CASES)
def test_sample_reproduces_the_target_moments(case):
    torch.manual_seed(0)
    model = optimal_model(case)
    mean, var = exact_target(case)
    x = model.sample(torch.zeros(50_000, 1), steps=50, method="rk4")
    torch.testing.assert_close(x.mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(x.var(0), var, rtol=0.02, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_log_prob_is_the_exact_gaussian_density(case):
    torch.manual_seed(1)
    model = optimal_model(case)
    mean, var = exact_target(case)
    x = mean + var.sqrt() * torch.randn(16, 2)
    expected = gaussian_log_prob(x, mean, var)
    with torch.no_grad():
        torch.testing.assert_close(
            model.log_prob(x, torch.zeros(16, 1), steps=200, method="rk4"), expected, atol=1e-5, rtol=0
        )
        # Euler with the reference's 999 steps: first-order error, well under 0.05 nats here.
        euler = model.log_prob(x, torch.zeros(16, 1), steps=999, method="euler")
    assert (euler - expected).abs().max() < 0.05


@pytest.mark.slow
def test_hutchinson_is_unbiased_within_tolerance():
    """Mean of 64 Gaussian-probe estimates is within 0.05 nats; Rademacher on a diagonal Jacobian is exact."""
    torch.manual_seed(2)
    model = optimal_model("gvp-velocity")
    x = M + C.sqrt() * torch.randn(8, 2)
    expected = gaussian_log_prob(x, M, C)
    with torch.no_grad():
        draws = torch.stack(
            [model.log_prob(x, torch.zeros(8, 1), 100, "hutchinson", "rk4") for _ in range(64)]
        )
        rademacher = model.log_prob(x, torch.zeros(8, 1), 100, "hutchinson", "rk4", probe="rademacher")
    assert (draws.mean(0) - expected).abs().max() < 0.05
    assert draws.std(0).min() > 0  # it really is random
    torch.testing.assert_close(rademacher, expected, atol=1e-5, rtol=0)


def small_model(path=None, param="velocity") -> GenerativeModel:
    torch.manual_seed(3)
    net = TemporalSpatialResidualNet(2, 3, hidden_sizes=(16, 8), t_dim=8, cond_hidden_dim=4, t_cond_hidden_dim=8)
    return GenerativeModel(net, path or AffinePath(GVPSchedule()), param)


def test_log_prob_gradcheck_wrt_actions():
    model = small_model()
    cond = torch.randn(3, 3)
    x = torch.randn(3, 2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: model.log_prob(a, cond, steps=4), (x,), eps=1e-6, atol=1e-5)


def test_stopgrad_likelihood_gradient_is_minus_the_latent():
    """Spec §2.4: with stop-gradient states ∂log p/∂a = −z, the terminal latent of the Euler likelihood ODE."""
    model = small_model()
    cond = torch.randn(5, 3)
    a = torch.randn(5, 2, requires_grad=True)
    lp = model.log_prob(a, cond, steps=6, stopgrad_state=True)
    (grad,) = torch.autograd.grad(lp.sum(), a)
    z = a.detach().clone()
    grid = torch.linspace(1.0, 0.0, 7)
    with torch.no_grad():
        for k in range(6):
            z = z + (grid[k + 1] - grid[k]) * model.velocity(grid[k], z, cond)
    torch.testing.assert_close(grad, -z)
    # the value itself is the same Euler likelihood as the plain one
    torch.testing.assert_close(lp.detach(), model.log_prob(a, cond, steps=6).detach())


def test_recompute_gives_identical_values_and_gradients():
    model = small_model()
    cond, x_0 = torch.randn(4, 3), torch.randn(4, 2)

    def grads(recompute: bool):
        model.zero_grad()
        a = model.sample(cond, steps=5, x_0=x_0, recompute=recompute)
        lp = model.log_prob(a, cond, steps=5, stopgrad_state=True, recompute=recompute)
        (a.sum() + lp.sum()).backward()
        return a.detach(), [p.grad.clone() for p in model.parameters()]

    a1, g1 = grads(False)
    a2, g2 = grads(True)
    torch.testing.assert_close(a1, a2)
    for p, q in zip(g1, g2):
        torch.testing.assert_close(p, q)


def test_sample_shapes_and_per_state_conditioning():
    model = small_model()
    cond = torch.randn(4, 3)
    assert model.sample(cond, steps=3).shape == (4, 2)
    assert model.sample(cond, steps=3, n_per_state=5).shape == (4, 5, 2)
    x = model.sample(cond, steps=3, n_per_state=2, x_0=torch.zeros(8, 2))
    torch.testing.assert_close(x[:, 0], x[:, 1])  # same noise, same state → same action


def test_per_sample_loss_shape_and_targets():
    model = small_model(param="noise", path=AffinePath(VPSchedule()))
    loss = model.loss(torch.randn(7, 2), torch.randn(7, 3))
    assert loss.shape == (7,) and (loss >= 0).all()


def test_incompatible_parameterizations_are_rejected():
    with pytest.raises(ValueError, match="affine path"):
        GenerativeModel(torch.nn.Identity(), ICFMPath(0.1), "noise")
    with pytest.raises(ValueError, match="α"):
        GenerativeModel(torch.nn.Identity(), AffinePath(GVPSchedule()), "noise")
    with pytest.raises(ValueError, match="unknown parameterization"):
        GenerativeModel(torch.nn.Identity(), AffinePath(GVPSchedule()), "score")


def test_log_prob_gradient_wrt_actions_is_the_gaussian_score():
    """∂log p/∂a of the exact flow equals the closed-form score −(a − m)/C."""
    model = optimal_model("gvp-velocity")
    a = (M + C.sqrt() * torch.randn(6, 2)).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.log_prob(a, torch.zeros(6, 1), steps=100, method="rk4").sum(), a)
    torch.testing.assert_close(grad, -(a.detach() - M) / C, atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", ["gvp-velocity", "vpsde-noise", "icfm-velocity"])
def test_euler_sample_density_is_exact_for_the_discrete_sampler(case):
    """For a field linear in x each Euler step is affine, x ↦ (1 + h·a_k)·x + h·b_k per dimension, so the
    sampler's output density is log N(x_0) − Σ_k log|1 + h·a_k| exactly; sample_with_log_prob must agree."""
    torch.manual_seed(4)
    model = optimal_model(case)
    steps, x_0 = 7, torch.randn(32, 2)
    x, log_p = model.sample_with_log_prob(torch.zeros(32, 1), steps=steps, x_0=x_0)
    grid = torch.linspace(0.0, model.t_end, steps + 1)
    expected = -0.5 * (x_0**2).sum(-1) - torch.log(torch.tensor(2 * torch.pi))
    with torch.no_grad():
        for k in range(steps):
            h = grid[k + 1] - grid[k]
            x_probe = torch.stack([torch.zeros(2), torch.ones(2)])  # v(x) = a·x + b ⇒ a = v(1) − v(0)
            v = model.velocity(grid[k], x_probe, torch.zeros(2, 1))
            expected = expected - torch.log(torch.abs(1 + h * (v[1] - v[0]))).sum()
    torch.testing.assert_close(x, model.sample(torch.zeros(32, 1), steps=steps, x_0=x_0))
    torch.testing.assert_close(log_p, expected)
