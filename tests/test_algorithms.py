"""GMPO and GMPG on a contextual bandit: they move the policy to the rewarded mode (spec §5, §6)."""

import math

import numpy as np
import pytest
import torch

from bandit import bandit_data, make_critic, make_model_factory, rewarded_fraction, run_phase
from genrl.algorithms import GMPG, GMPO


def adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["vpsde", "gvp", "icfm"])
def test_gmpo_samples_sit_at_the_rewarded_mode(path):
    torch.manual_seed(0)
    data = bandit_data()
    gmpo = GMPO(
        make_model_factory(path), make_critic(), adam(2e-3), beta=10.0, max_weight=100.0, epochs=1, batch_size=256
    )
    critic_phase, policy_phase = gmpo.phases()
    run_phase(critic_phase, data, 300)
    run_phase(policy_phase, data, 600, seed=1)
    hit, actions = rewarded_fraction(gmpo.policy)
    assert hit > 0.85, f"{path}: only {hit:.0%} of actions on the rewarded mode"
    # and they stay near the data's modes (the critic's extrapolation pulls them slightly outward)
    assert np.mean(np.abs(np.abs(actions) - 1.0) < 0.5) > 0.85


def make_gmpg(path: str, **kwargs) -> GMPG:
    # recompute only trades memory for time (test_recompute_gives_identical_values_and_gradients): off, 40% faster
    options = dict(beta=10.0, behaviour_epochs=1, epochs=1, behaviour_batch_size=256, batch_size=256, grad_steps=10,
                   recompute=False)
    options.update(kwargs)
    return GMPG(make_model_factory(path), make_critic(), adam(2e-3), adam(2e-3), **options)


def pretrained_gmpg(**kwargs) -> tuple[GMPG, object]:
    torch.manual_seed(0)
    data = bandit_data()
    gmpg = make_gmpg("gvp", **kwargs)
    behaviour, critic, _ = gmpg.phases()
    run_phase(behaviour, data, 600)
    run_phase(critic, data, 300, seed=1)
    return gmpg, data


def support(actions: np.ndarray) -> float:
    """Fraction of actions within 0.5 of a behaviour mode (±1)."""
    return float(np.mean(np.abs(np.abs(actions) - 1.0) < 0.5))


@pytest.mark.slow
def test_gmpg_moves_mass_to_the_rewarded_mode_inside_the_behaviour_support():
    gmpg, data = pretrained_gmpg()
    before, _ = rewarded_fraction(gmpg.behaviour)
    run_phase(gmpg.phases()[2], data, 200, seed=2)  # settled: at 120 steps mass is still crossing over
    after, actions = rewarded_fraction(gmpg.policy)
    assert 0.35 < before < 0.65  # μ imitates both modes
    assert after > 0.9
    assert support(actions) > 0.9  # π stays where μ has mass


@pytest.mark.slow
def test_gmpg_exact_gradient_keeps_pi_at_mu_without_reward():
    """β = 0: the objective is KL(π‖μ), minimal at π = μ, so π must stay put (the reference's biased
    frozen-adjoint gradient drifts away here: see docs/algorithms.md)."""
    gmpg, data = pretrained_gmpg(beta=0.0)
    _, mu_actions = rewarded_fraction(gmpg.behaviour)
    policy = gmpg.phases()[2]
    policy.on_start(data)
    _, first = gmpg.policy_loss(data.obs[:512])
    run_phase(policy, data, 100, seed=2)
    _, last = gmpg.policy_loss(data.obs[:512])
    hit, actions = rewarded_fraction(gmpg.policy)
    assert 0.4 < hit < 0.6
    assert support(actions) >= support(mu_actions) - 0.05
    # the estimate settles at the Euler/ODE discretisation offset (≈ −0.5 bits here) instead of growing; the
    # reference gradient raises it by more than 2 bits in the same 100 steps (docs/algorithms.md)
    assert abs(last["kl_bits"].item() - first["kl_bits"].item()) < 0.5


@pytest.mark.parametrize("estimator", ["exact", "hutchinson"])
def test_gmpg_starts_with_zero_kl_reference_gradient(estimator):
    """Phase 3 at step 0: π = μ, so log π − log μ is 0 (exact divergence) or 0 on average (Hutchinson)."""
    torch.manual_seed(0)
    data = bandit_data(512)
    gmpg = make_gmpg("icfm", estimator=estimator, gradient="reference")
    behaviour, _, policy = gmpg.phases()
    run_phase(behaviour, data, 50)
    policy.on_start(data)
    for p, q in zip(gmpg.policy.parameters(), gmpg.behaviour.parameters()):
        assert torch.equal(p, q)
    torch.testing.assert_close(gmpg.policy.net.time_encoder.W, gmpg.behaviour.net.time_encoder.W)
    _, metrics = gmpg.policy_loss(data.obs[:256])
    assert abs(metrics["kl_bits"].item()) < (1e-6 if estimator == "exact" else 0.05)


def test_gmpg_starts_with_near_zero_kl_exact_gradient():
    """With the exact gradient, log π is the Euler sampler's own density and log μ the ODE likelihood: at π = μ
    they differ only by the discretisation, which vanishes as the grid is refined."""
    torch.manual_seed(0)
    data = bandit_data(512)
    gaps = []
    for steps in (8, 64):
        gmpg = make_gmpg("icfm", grad_steps=steps)
        behaviour, _, policy = gmpg.phases()
        torch.manual_seed(0)
        run_phase(behaviour, data, 50)
        policy.on_start(data)
        gaps.append(abs(gmpg.policy_loss(data.obs[:256])[1]["kl_bits"].item()))
    assert gaps[1] < 0.05 and gaps[1] < gaps[0] / 3


def test_gmpg_reference_behaviour_gradient_shortcut_matches_backpropagation():
    """The no-graph log μ with ∂/∂a = −z_μ gives the same action gradient as differentiating the ODE."""
    torch.manual_seed(0)
    gmpg = make_gmpg("gvp", estimator="exact", gradient="reference")
    obs = torch.randn(16, 2)
    action = torch.randn(16, 1, requires_grad=True)
    (shortcut,) = torch.autograd.grad(gmpg._reference_behaviour_log_prob(action, obs).sum(), action)
    full = gmpg.behaviour.log_prob(action, obs, 10, "exact", stopgrad_state=True)
    (reference,) = torch.autograd.grad(full.sum(), action)
    torch.testing.assert_close(shortcut, reference)


def fixed_noise(sample):
    return lambda obs, *args, **kw: sample(obs, *args, x_0=torch.sin(17 * obs.sum(-1, keepdim=True)), **kw)


def test_gmpg_chunked_gradient_equals_whole_batch_gradient():
    torch.manual_seed(0)
    data = bandit_data(256)
    grads = []
    for chunk in (None, 64):
        torch.manual_seed(1)
        gmpg = make_gmpg("icfm", estimator="exact", chunk_size=chunk)
        gmpg.phases()[2].on_start(data)
        # noise as a fixed function of the state, so chunking cannot reorder it
        gmpg.policy.sample_with_log_prob = fixed_noise(gmpg.policy.sample_with_log_prob)
        gmpg.optimizer.step = lambda: None  # keep θ; we compare the accumulated gradients
        gmpg.update(data.batch(torch.arange(128)))
        grads.append([p.grad.clone() for p in gmpg.policy.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_gmpo_weights_are_clamped_exponentiated_advantages():
    torch.manual_seed(0)
    data = bandit_data(256)
    gmpo = GMPO(make_model_factory("gvp"), make_critic(), adam(1e-3), beta=50.0, max_weight=20.0, epochs=1)
    run_phase(gmpo.phases()[0], data, 200)
    batch = data.batch(torch.arange(256))
    _, metrics = gmpo.policy_loss(batch)
    adv = gmpo.critic.advantage(batch.obs, batch.action)
    expected = torch.exp(50.0 * adv).clamp(max=20.0)
    assert metrics["weight_mean"].item() == pytest.approx(expected.mean().item(), rel=1e-5)
    assert metrics["clamped_fraction"].item() == pytest.approx((50.0 * adv > math.log(20.0)).float().mean().item())
