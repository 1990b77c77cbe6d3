"""Inference cost (issue 24, item 2): calls per action and act latency, in results.json and genrl-report."""

from __future__ import annotations

import json

import torch

from conftest import run_train
from genrl.acting.cost import COST_KEYS, measure_act_cost, networks_of
from genrl.acting.policy import ActingPolicy
from genrl.models import GenerativeModel
from genrl.models.one_step import OneStepPolicy
from genrl.networks import DoubleQ, TemporalSpatialResidualNet
from genrl.paths import ICFMPath
from genrl.reporting.render import render_text
from genrl.reporting.results import load_runs
from genrl.reporting.tables import build_cost_rows, build_table


def test_calls_per_action_count_solver_steps_and_one_batched_critic_call():
    model = GenerativeModel(TemporalSpatialResidualNet(2, 3, (8,), t_dim=4, cond_hidden_dim=4, t_cond_hidden_dim=4),
                            ICFMPath(0.1))  # fmt: skip
    q = DoubleQ(3, 2, [8])
    act = ActingPolicy(model.sampler(steps=7), candidates=4, score=q.min_q)
    cost = measure_act_cost(act, 3, "cpu", [*networks_of(model), q], repeats=3)  # the twins: one call
    assert cost["calls_per_action"] == 7 + 1
    assert cost["act_ms_batch1"] > 0 and cost["actions_per_s_batch1024"] > 0
    one_step = OneStepPolicy(3, 2, [8])
    assert measure_act_cost(one_step.sampler(), 3, "cpu", networks_of(one_step), repeats=3)["calls_per_action"] == 1


def test_the_random_state_is_left_as_it_was():
    sample = OneStepPolicy(3, 2, [8]).sampler()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    measure_act_cost(sample, 3, "cpu", repeats=2)
    assert torch.equal(torch.rand(3), expected)


def test_results_carry_the_cost_and_the_report_shows_it_beside_the_score(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=bc", "net.hidden_sizes=[8,4]", "sampling.steps=3"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["calls_per_action"] == 3
    assert all(results[key] > 0 for key in COST_KEYS)
    records = load_runs([tmp_path])
    table = build_table(records, "score_final")
    rows = build_cost_rows(records, table)
    assert len(rows) == 1 and rows[0].cost["calls_per_action"] == 3
    assert rows[0].score == table.average[rows[0].column].mean
    text = render_text([table], [], "markdown", costs=rows)
    assert "Inference cost beside score_final" in text and "calls/action" in text and "actions/s (batch 1024)" in text
