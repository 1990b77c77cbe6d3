"""One-step distillation (issue 24, item 3): μ(s, z) matches a fixed teacher that maps noise to actions, and
``genrl-distill RUN_DIR`` distils a trained run and evaluates it."""

from __future__ import annotations

import json

import torch

from conftest import run_train
from genrl.algorithms import GMPO
from genrl.cli.distill import main as distill_main
from genrl.cli.distill import student_sampler
from genrl.models import GenerativeModel
from genrl.models.one_step import OneStepPolicy, matching_loss
from genrl.networks import TemporalSpatialResidualNet
from genrl.paths import AffinePath, GVPSchedule
from genrl.training.distillation import draw_pairs, fit_student, fresh_batches, fresh_loss


def test_the_distillation_loss_to_a_fixed_gaussian_teacher_reaches_1e_3():
    """Teacher Φ(z; s) = m(s) + σ·z, a state-dependent Gaussian policy read through its noise (the map a flow from
    N(0, I) to that Gaussian learns): μ(s, z) recovers it to a mean squared error ≤ 1e-3."""
    torch.manual_seed(0)

    def teacher(obs, noise):
        return 0.5 * obs[:, :1] - 0.2 * obs[:, 1:] + 0.3 * noise

    student = OneStepPolicy(2, 1, [64, 64])
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    for _ in range(800):
        loss = matching_loss(student, *fresh_batches(teacher, torch.randn(256, 2), 1, batch_size=256)())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        held_out = fresh_batches(teacher, torch.randn(4096, 2), 1, batch_size=4096)()
        assert matching_loss(student, *held_out).item() <= 1e-3


def _gaussian_teacher(obs, noise):
    return 0.5 * obs[:, :1] - 0.2 * obs[:, 1:] + 0.3 * noise


def test_teacher_pairs_are_the_teachers_actions_at_their_states_and_noises():
    """Pairs solved in chunks are the teacher at each pair's own state and noise (no chunk mixes them up)."""
    torch.manual_seed(0)
    obs = torch.randn(500, 2)
    pairs = draw_pairs(_gaussian_teacher, obs, 1, count=1000, chunk=64)
    assert pairs.index.shape == (1000,) and pairs.noise.shape == pairs.target.shape == (1000, 1)
    torch.testing.assert_close(pairs.target, _gaussian_teacher(obs[pairs.index], pairs.noise), atol=0, rtol=0)
    assert pairs.index.unique().numel() > 400  # states drawn across the dataset, not one chunk's


def test_a_student_fitted_on_teacher_pairs_fits_noises_it_never_saw():
    """Trained on 20k pairs drawn once, μ(s, z) matches the Gaussian teacher on fresh (s, z) to ≤ 1e-3: the cached
    pairs cover the map, not only their own noises."""
    torch.manual_seed(0)
    obs = torch.randn(4096, 2)
    student = OneStepPolicy(2, 1, [64, 64])
    pairs = draw_pairs(_gaussian_teacher, obs, 1, count=20000)
    losses = fit_student(student, pairs.batches(obs, 256), steps=800, lr=3e-3)
    assert losses[0].item() > 0.05  # it started far from the teacher
    assert fresh_loss(student, _gaussian_teacher, obs) <= 1e-3


def test_the_noise_sampler_is_the_sampler_at_the_same_noise():
    """What is distilled (and exported) is the acting sampler's own map from noise to action."""
    net = TemporalSpatialResidualNet(1, 2, (8,), t_dim=4, cond_hidden_dim=4, t_cond_hidden_dim=4)
    model = GenerativeModel(net, AffinePath(GVPSchedule()))
    sampling = {"steps": 5, "method": "euler", "noise_scale": 0.5}
    obs = torch.randn(6, 2)
    torch.manual_seed(3)
    expected = GMPO.make_sampler(model, {**sampling, "candidates": 1})(obs)
    torch.manual_seed(3)
    noise = torch.randn(6, 1)
    torch.testing.assert_close(GMPO.make_noise_sampler(model, sampling)(obs, noise), expected, atol=1e-6, rtol=0)


def test_the_distilled_policy_acts_with_the_teachers_action_distribution():
    """The teacher Φ(z; s) starts its solver from τ·z, so the student fitted to it acts at z ~ N(0, I): its actions at
    a state have the teacher's acting mean and spread (acting at τ·z again would halve the spread at τ = 0.5)."""
    torch.manual_seed(0)
    net = TemporalSpatialResidualNet(1, 2, (16,), t_dim=4, cond_hidden_dim=4, t_cond_hidden_dim=4)
    model = GenerativeModel(net, AffinePath(GVPSchedule()))
    sampling = {"steps": 5, "method": "euler", "noise_scale": 0.5}
    teacher = GMPO.make_noise_sampler(model, sampling)
    student = OneStepPolicy(2, 1, [64, 64], [-5.0], [5.0])  # a box wide enough that no action is clamped
    fit_student(student, fresh_batches(teacher, torch.randn(4096, 2), 1, batch_size=256), steps=400, lr=3e-3)
    obs = torch.tensor([[0.0, 0.0], [1.0, -1.0], [-0.5, 2.0]]).repeat_interleave(4000, dim=0)
    with torch.no_grad():
        distilled = student_sampler(student)(obs).view(3, 4000)
        acting = GMPO.make_sampler(model, {**sampling, "candidates": 1})(obs).view(3, 4000)
    torch.testing.assert_close(distilled.mean(1), acting.mean(1), atol=0.04, rtol=0)  # 3 standard errors
    torch.testing.assert_close(distilled.std(1), acting.std(1), rtol=0.08, atol=0)


def test_genrl_distill_distils_and_evaluates_a_run(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=bc", "net.hidden_sizes=[8,4]", "sampling.steps=3"], tmp_path)
    args = ["--steps", "20", "--hidden-sizes", "8", "--episodes", "2", "--pairs", "300"]
    assert distill_main([str(tmp_path / "run"), *args]) == 0
    results = json.loads((tmp_path / "run" / "distill" / "results.json").read_text())
    assert results["distill_pairs"] == 300 and results["distill_loss_fresh"] > 0
    fresh = tmp_path / "fresh"  # --pairs 0: a teacher solve at every step
    assert distill_main([str(tmp_path / "run"), *args[:-1], "0", "--out", str(fresh)]) == 0
    assert json.loads((fresh / "results.json").read_text())["distill_pairs"] is None
    assert results["algorithm"] == "bc-distilled" and results["calls_per_action"] == 1
    assert results["act_ms_batch1"] > 0 and results["distill_loss"] >= 0 and results["teacher_score_final"] is not None
    assert [step for step, _ in results["distill_loss_curve"]] == list(range(1, 21))  # 20 steps in 20 blocks
    assert (results["student_hidden_sizes"], results["student_noise_scale"]) == ([8], 1.0)
    assert (tmp_path / "run" / "distill" / "one_step.pt").exists()
    deployed = torch.jit.load(str(tmp_path / "run" / "distill" / "policy.ts"))
    assert deployed(torch.zeros(3)).shape == (1,)
