"""Probability paths between Gaussian noise and action data.

**The time convention (the only place it is stated).** ``x_0 ~ N(0, I)`` is the noise source, ``x_1`` is
the data (an action), and ``t`` runs from 0 (noise) to 1 (data). Every path, parameterisation, solver and
likelihood in genrl uses it. A velocity is ``dx_t/dt`` in this direction, so sampling integrates
``dx/dt = v(t, x)`` forward from ``t = 0``.

GenerativeRL (GRL) writes its diffusion paths (VPSDE, GVP) with *diffusion time* ``τ = 1 − t`` (τ = 0 is data).
genrl maps them with ``t ↦ 1 − t`` inside the schedules, so GRL's ``scale(τ)``/``std(τ)`` equal genrl's
``alpha(t)``/``sigma(t)`` at ``t = 1 − τ`` and GRL's forward-time velocity equals ``−v``. GRL's *solver* time
``u`` (model time ``1 − u``) is genrl's ``t``: a fixed Euler grid evaluates the network on the same states,
and the left-point rule never evaluates the data end where ``σ = 0``. GRL's ICFM already puts noise at
``t = 0``, so all three paths agree.
"""

from genrl.paths.affine import AffinePath
from genrl.paths.base import Marginal, PathSample, ProbabilityPath
from genrl.paths.icfm import ICFMPath
from genrl.paths.schedules import GVPSchedule, LinearSchedule, Schedule, ScheduleOutput, VPSchedule

__all__ = [
    "AffinePath",
    "GVPSchedule",
    "ICFMPath",
    "LinearSchedule",
    "Marginal",
    "PathSample",
    "ProbabilityPath",
    "Schedule",
    "ScheduleOutput",
    "VPSchedule",
]
