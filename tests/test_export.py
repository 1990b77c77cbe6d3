"""Deployment export (issue 24, item 4): ``Agent.export`` writes one TorchScript file that a fresh interpreter without
genrl runs to the same actions as ``Agent.act``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import run_train
from genrl import Agent
from genrl.errors import GenrlError

#: A fresh interpreter with genrl made unimportable: plain Python + torch + numpy.
FRESH = """
import sys
sys.modules["genrl"] = None  # any import of genrl fails
import numpy as np, torch
policy = torch.jit.load(sys.argv[1])
obs = torch.as_tensor(np.load(sys.argv[2]))
torch.manual_seed(7)
batch = policy(obs)
single = policy(obs[0])
np.save(sys.argv[3], np.concatenate([batch.numpy(), single.numpy()[None]]))
"""


@pytest.mark.parametrize(
    "overrides",
    [
        ["algorithm=bc", "path=vpsde", "normalize_observations=true", "net.hidden_sizes=[8,4]", "sampling.steps=3"],
        ["algorithm=fql", "path=icfm", "algorithm.policy.hidden_sizes=[16]", "critic.q_net.hidden_sizes=[16]"],
        ["algorithm=iql", "path=none", "algorithm.policy.deterministic=false", "critic.q_net.hidden_sizes=[8]",
         "critic.v_net.hidden_sizes=[8]"],
    ],
    ids=["bc-vpsde-normalised", "fql-icfm", "iql-gaussian"],
)
def test_the_exported_file_reproduces_agent_act_in_a_fresh_interpreter(tmp_path, smoke_args, overrides):
    run_train([*smoke_args, *overrides], tmp_path)
    agent = Agent.from_checkpoint(tmp_path / "run")
    file = agent.export(tmp_path / "policy.ts")
    obs = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    np.save(tmp_path / "obs.npy", obs)
    subprocess.run([sys.executable, "-c", FRESH, str(file), str(tmp_path / "obs.npy"), str(tmp_path / "out.npy")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    torch.manual_seed(7)
    expected = np.concatenate([agent.act(obs), agent.act(obs[0])[None]])
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6, rtol=0)


def test_a_policy_that_selects_among_candidates_is_exported_with_one(tmp_path, smoke_args):
    run_train([*smoke_args, "algorithm=bc", "net.hidden_sizes=[8,4]", "sampling.candidates=3"], tmp_path)
    with pytest.raises(GenrlError, match="candidates=1"):
        Agent.from_checkpoint(tmp_path / "run").export(tmp_path / "policy.ts")
    assert Agent.from_checkpoint(tmp_path / "run", candidates=1).export(tmp_path / "policy.ts").exists()
