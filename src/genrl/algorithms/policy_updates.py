"""What every algorithm does to its policy: an optimiser step, then the EMA of the weights that act."""

from __future__ import annotations

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from genrl.models import GenerativeModel
from genrl.models.ema import ema_of


class PolicyUpdates:
    """Owns ``policy``, its ``optimizer`` and, with ``ema_decay``, an exponential moving average ``ema``."""

    policy: GenerativeModel
    optimizer: Optimizer
    ema: AveragedModel | None

    def init_policy(self, policy: GenerativeModel, optimizer, ema_decay: float | None) -> None:
        self.policy = policy
        self.optimizer = optimizer(policy.parameters())
        self.ema = ema_of(policy, ema_decay) if ema_decay is not None else None

    @property
    def acting_policy(self) -> GenerativeModel:
        """The weights that act (evaluation, deployment): the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.policy

    def policy_step(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.policy)

    def policy_members(self) -> dict[str, object]:
        members = {"policy": self.policy, "optimizer": self.optimizer}
        return members if self.ema is None else {**members, "policy_ema": self.ema}
