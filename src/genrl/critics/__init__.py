"""Critics: value functions trained on the offline data (IQL; TD double Q on a policy's actions)."""

from genrl.critics.iql import IQLCritic, expectile_loss
from genrl.critics.td import TDCritic

__all__ = ["IQLCritic", "TDCritic", "expectile_loss"]
