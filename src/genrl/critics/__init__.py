"""Critics: value functions trained on the offline data (IQL)."""

from genrl.critics.iql import IQLCritic, expectile_loss

__all__ = ["IQLCritic", "expectile_loss"]
