"""The unit advantages are measured in before they become weights exp(β·A/scale): a rule chosen from the data.

* ``none``: scale 1 (the reference: β carries the reward scale);
* ``std``: σ_A, the standard deviation of A over the dataset;
* ``ess``: the temperature T at which the weights exp(A/T) over the dataset have effective sample fraction
  ``target_ess``, ESS/n = (Σw)² / (n·Σw²). σ_A is blind to the shape of the distribution (a heavy right tail puts
  most of the weight on a few transitions at the same σ_A); T fixes how much of the data the weighting keeps.

Every rule but ``none`` is invariant to multiplying the rewards by c > 0: A and the scale both scale by c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genrl.errors import check_choice

ADVANTAGE_NORMALIZATIONS = ("none", "std", "ess")


def effective_sample_fraction(log_weights: Tensor) -> float:
    """(Σw)² / (n·Σw²) of w = exp(log_weights), computed in log space (no overflow): 1/n ≤ result ≤ 1."""
    log_weights = log_weights.double().reshape(-1)
    n = log_weights.numel()
    return math.exp(2 * torch.logsumexp(log_weights, 0).item() - torch.logsumexp(2 * log_weights, 0).item()) / n


def ess_temperature(advantages: Tensor, target: float, iterations: int = 100) -> float:
    """T > 0 with effective_sample_fraction(A/T) = ``target``, by bisection on log T.

    The fraction rises monotonically with T (from 1/n towards 1: log ESS = 2K(1/T) − K(2/T) with K the convex
    cumulant function of A), so bisection converges; the result is relative to tolerance 1e-6 in log T.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target effective sample fraction must be in (0, 1), got {target}")
    adv = advantages.double().reshape(-1)
    spread = float(adv.std()) if adv.numel() > 1 else 0.0
    if not spread > 0.0:
        raise ValueError("the advantages are constant: no temperature gives them an effective sample fraction")
    if target <= 1.0 / adv.numel():
        raise ValueError(f"target effective sample fraction {target} is below 1/n for n = {adv.numel()} advantages")
    low, high = math.log(spread) - 20.0, math.log(spread) + 20.0  # ESS(T) spans (≈1/n, ≈1) on this bracket
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if effective_sample_fraction(adv / math.exp(mid)) < target:
            low = mid
        else:
            high = mid
        if high - low < 1e-6:
            break
    return math.exp(0.5 * (low + high))


def advantage_scale(advantages: Tensor, rule: str, target_ess: float = 0.5) -> float:
    """The scale of ``rule`` for the dataset's advantages (see the module docstring)."""
    check_choice("algorithm.advantage_normalization", rule, ADVANTAGE_NORMALIZATIONS)
    if rule == "none":
        return 1.0
    if rule == "ess":
        return ess_temperature(advantages, target_ess)
    scale = float(advantages.double().std()) if advantages.numel() > 1 else 0.0
    if not scale > 0.0:
        raise ValueError("the advantages are constant; cannot normalise their scale")
    return scale


@dataclass(frozen=True)
class AdvantageUnit:
    """An algorithm's choice of unit (``algorithm.advantage_normalization``, ``algorithm.target_ess``): measured
    on the frozen critic as the policy phase starts (:meth:`fit`), divided out of A or Q (:meth:`of`)."""

    normalization: str = "none"
    target_ess: float = 0.5

    def __post_init__(self) -> None:
        check_choice("algorithm.advantage_normalization", self.normalization, ADVANTAGE_NORMALIZATIONS)

    def fit(self, critic, data) -> None:
        """Measure the critic's scale over ``data`` (σ_A also under ``none``: softmax candidate selection uses it)."""
        critic.fit_advantage_scale(data, self.normalization, self.target_ess)

    def of(self, critic) -> float:
        """The divisor of A: 1 under ``none``, else the critic's measured scale."""
        return critic.advantage_scale if self.normalization != "none" else 1.0
