"""Critic-guided action selection, scale-free advantage weights, and what a checkpoint carries to the Agent."""

import copy
import json

import numpy as np
import pytest
import torch

from bandit import bandit_data, make_critic, make_model_factory, rewarded_fraction, run_phase
from conftest import run_train
from genrl import Agent
from genrl.acting.policy import ActingPolicy, select_candidates
from genrl.algorithms import GMPG, GMPO, BehaviourCloning
from genrl.config import asset_path
from genrl.data import load_npz
from genrl.data.normalization import ObservationNormalizer
from genrl.training.acceleration import make_policy_sampler


def adam(lr):
    return lambda params: torch.optim.Adam(params, lr=lr)


def contexts(n: int = 500) -> torch.Tensor:
    return torch.cat([torch.tensor([[1.0, 0.0]]).repeat(n, 1), torch.tensor([[-1.0, 0.0]]).repeat(n, 1)])


def test_candidate_selection_picks_the_rewarded_mode_of_a_weak_policy():
    """A barely trained behaviour clone puts half its actions on each mode; 16 candidates scored by the
    critic and the argmax taken put nearly all of them on the rewarded one."""
    torch.manual_seed(0)
    data = bandit_data()
    bc = BehaviourCloning(make_model_factory("gvp"), make_critic(), adam(2e-3), epochs=1, batch_size=256,
                          train_critic=True)  # fmt: skip
    critic_phase, policy_phase = bc.phases()
    run_phase(critic_phase, data, 300)
    run_phase(policy_phase, data, 150, seed=1)  # deliberately weak: 150 steps
    one_sample, _ = rewarded_fraction(bc.policy)
    assert 0.3 < one_sample < 0.7, "the weak policy should still imitate both modes"

    def sample(obs):
        return bc.policy.sample(obs, steps=10)

    obs = contexts()
    for selection, temperature, floor in (("argmax", 1.0, 0.95), ("softmax", 0.1, 0.9)):
        act = ActingPolicy(sample, candidates=16, score=bc.critic.q.min_q, selection=selection,
                           temperature=temperature, score_scale=bc.critic.advantage_scale)  # fmt: skip
        with torch.no_grad():
            actions = act(obs)[:, 0]
        hit = (torch.sign(actions) == torch.sign(obs[:, 0])).float().mean().item()
        assert hit > floor, f"{selection}: only {hit:.0%} on the rewarded mode"


def test_softmax_selection_draws_in_proportion_to_exp_score_over_temperature():
    torch.manual_seed(0)
    scores = torch.tensor([[0.0, 1.0, 2.0]]).repeat(20000, 1)
    picks = select_candidates(scores, "softmax", temperature=2.0)
    freq = torch.bincount(picks, minlength=3).double() / picks.numel()
    expected = torch.softmax(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), 0)
    torch.testing.assert_close(freq, expected, atol=0.015, rtol=0)
    assert torch.equal(select_candidates(scores[:5], "argmax"), torch.full((5,), 2))


def test_candidates_are_clamped_to_the_action_box_before_scoring():
    obs = torch.zeros(4, 2)
    act = ActingPolicy(lambda o: torch.full((o.shape[0], 1), 3.0), candidates=2, score=lambda o, a: a[:, 0],
                       low=torch.tensor([-1.0]), high=torch.tensor([1.0]))  # fmt: skip
    assert torch.equal(act(obs), torch.ones(4, 1))


def scaled_critic(critic, factor: float):
    """A copy whose Q and V outputs are exactly ``factor`` times the original's (last layers scaled)."""
    other = copy.deepcopy(critic)
    with torch.no_grad():
        for net in (other.q.q1, other.q.q2, other.v.v):
            net[-1].weight.mul_(factor)
            net[-1].bias.mul_(factor)
    return other


def test_scale_free_weights_do_not_change_when_rewards_are_multiplied_by_ten():
    torch.manual_seed(0)
    data = bandit_data(1024)
    critic = make_critic()
    run_phase(critic.phase(), data, 200)
    batch = data.batch(torch.arange(512))
    weights = {}
    for factor, normalization in ((1.0, "std"), (10.0, "std"), (1.0, "none"), (10.0, "none")):
        gmpo = GMPO(make_model_factory("gvp"), scaled_critic(critic, factor), adam(1e-3), beta=2.0,
                    max_weight=100.0, epochs=1, advantage_normalization=normalization)  # fmt: skip
        gmpo.start_policy(data.with_reward(data.reward * factor))  # measures σ_A of the frozen critic
        weights[factor, normalization] = gmpo.weights(batch.obs, batch.action)[0]
    torch.testing.assert_close(weights[10.0, "std"], weights[1.0, "std"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(weights[10.0, "none"], weights[1.0, "none"], atol=1e-3)  # the reference's are not
    # and GMPG's −β·Q/σ_A term is likewise unchanged
    gmpgs = []
    for factor in (1.0, 10.0):
        torch.manual_seed(3)
        gmpg = GMPG(make_model_factory("gvp"), scaled_critic(critic, factor), adam(1e-3), adam(1e-3), beta=2.0,
                    behaviour_epochs=1, epochs=1, grad_steps=4, advantage_normalization="std")  # fmt: skip
        gmpg.start_policy(data)
        torch.manual_seed(4)
        gmpgs.append(gmpg.policy_loss(batch.obs[:64])[0].item())
    assert gmpgs[0] == pytest.approx(gmpgs[1], rel=1e-5)


def test_advantage_scale_is_the_std_of_the_critics_advantages():
    torch.manual_seed(0)
    data = bandit_data(1000)
    critic = make_critic()
    run_phase(critic.phase(), data, 50)
    expected = critic.advantage(data.obs, data.action).double().std().item()
    assert critic.fit_advantage_scale(data, chunk=333) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_checkpoint_carries_ema_normalisation_and_candidates_to_the_agent(tmp_path, smoke_args):
    run_train([*smoke_args, "recipe=fast", "sampling.candidates=5", "algorithm.ema_decay=0.5"], tmp_path)
    run_dir = tmp_path / "run"
    res = json.loads((run_dir / "results.json").read_text())
    assert res["recipe"] == "fast" and res["sampling"]["candidates"] == 5 and res["ema_decay"] == 0.5
    assert res["normalize_observations"] is True

    agent = Agent.from_checkpoint(run_dir)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)["algorithm"]
    # the EMA copy acts, not the last iterate
    ema = {k.removeprefix("module."): v for k, v in state["policy_ema"].items() if k != "n_averaged"}
    for name, value in agent.model.state_dict().items():
        torch.testing.assert_close(value, ema[name])
    assert any(not torch.equal(ema[k], state["policy"][k]) for k in ema)
    # the dataset's observation statistics, computed here independently
    obs = load_npz(asset_path("demo.npz")).obs.double()
    normalizer = agent.policy.normalizer
    torch.testing.assert_close(normalizer.mean.double(), obs.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(normalizer.std.double(), obs.std(0) + 1e-3, atol=1e-5, rtol=1e-5)
    assert agent.policy.candidates == 5 and agent.policy.score is not None
    assert agent.policy.score_scale == pytest.approx(state["critic"]["advantage_scale"])
    assert Agent.from_checkpoint(run_dir, candidates=1).policy.candidates == 1
    action = agent.act(np.zeros(3, dtype=np.float32))
    assert action.shape == (1,) and np.all(np.abs(action) <= 2.0)  # clamped to Pendulum's box [-2, 2]


def test_normalizer_round_trips_and_normalises():
    norm = ObservationNormalizer(torch.tensor([1.0, -2.0]), torch.tensor([2.0, 0.5]))
    again = ObservationNormalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    torch.testing.assert_close(again(torch.tensor([[3.0, -1.0]])), torch.tensor([[1.0, 2.0]]))


@pytest.mark.slow
def test_agent_refuses_a_wrong_shape_and_non_finite_observations(tmp_path, smoke_args):
    run_train(smoke_args, tmp_path)
    agent = Agent.from_checkpoint(tmp_path / "run")
    with pytest.raises(Exception, match=r"expected an observation of shape \(3,\) or \(B, 3\), got \(4,\)"):
        agent.act(np.zeros(4))
    with pytest.raises(Exception, match="NaN or inf"):
        agent.act(np.array([0.0, np.nan, 0.0]))


def test_noise_scale_zero_gives_one_deterministic_action_per_state():
    torch.manual_seed(0)
    model = make_model_factory("icfm")()
    obs = torch.randn(8, 2)
    with torch.no_grad():
        deterministic = make_policy_sampler(model, 6, "euler", noise_scale=0.0)
        torch.testing.assert_close(deterministic(obs), deterministic(obs))
        torch.testing.assert_close(deterministic(obs), model.sample(obs, steps=6, x_0=torch.zeros(8, 1)))
        fused = make_policy_sampler(model, 6, "euler", fused=True, noise_scale=0.0)
        torch.testing.assert_close(fused(obs), deterministic(obs), atol=1e-5, rtol=1e-5)
        stochastic = make_policy_sampler(model, 6, "euler")
        assert not torch.allclose(stochastic(obs), stochastic(obs))


@pytest.mark.slow
@pytest.mark.parametrize("content", [b"", b"\x80\x02garbage", "foreign"])
def test_an_unreadable_checkpoint_gives_one_line_naming_the_file(tmp_path, smoke_args, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    file = run_dir / "checkpoint.pt"
    if content == "foreign":
        torch.save({"weights": torch.zeros(2)}, file)
    else:
        file.write_bytes(content)
    before = file.read_bytes()
    proc = run_train(smoke_args, tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert str(file) in line and "delete it" in line and "hydra.run.dir" in line
    assert file.read_bytes() == before and not (run_dir / "config.yaml").exists()
    with pytest.raises(Exception, match="cannot be read as a checkpoint"):
        Agent.from_checkpoint(run_dir)


@pytest.mark.slow
def test_metrics_stay_valid_json_lines_through_a_resume(tmp_path):
    from genrl.training.logger import RunLogger

    logger = RunLogger(tmp_path, progress=False)
    for step in range(3):
        logger.log({"event": "train", "phase": "critic", "step": step})
    offset = logger.offset()
    logger.log({"event": "train", "phase": "critic", "step": 3})
    with logger.path.open("a") as handle:
        handle.write('{"event": "train", "ste')  # a crash mid-write
    logger.truncate(offset)
    assert [json.loads(line)["step"] for line in logger.path.read_text().splitlines()] == [0, 1, 2]
    logger.truncate(offset + 1000)  # a file shorter than the checkpoint's offset is never padded
    text = logger.path.read_bytes()
    assert b"\x00" not in text and len(text.splitlines()) == 3
    logger.path.write_text('{"step": 0}\nnot json\n{"step": 2}\n')
    logger.truncate(10_000)
    assert logger.path.read_text() == '{"step": 0}\n{"step": 2}\n'


def test_a_second_process_in_the_same_run_folder_is_refused_and_a_dead_one_leaves_no_lock(tmp_path):
    import subprocess
    import sys

    from genrl.errors import GenrlError
    from genrl.training.run_lock import run_lock

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from genrl.training.run_lock import run_lock\n"
        f"with run_lock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(60)"
    )], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(GenrlError, match=rf"{tmp_path} is in use by process {holder.pid}"), run_lock(tmp_path):
        pass
    holder.kill()
    holder.wait()
    with run_lock(tmp_path):  # the killed holder's lock went with it
        pass
