"""What the network outputs: a velocity, or the noise x_0 (ε) of a Gaussian affine path."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from genrl.paths import AffinePath, PathSample, ProbabilityPath


class Parameterization(ABC):
    """Maps a path sample to the network's regression target, and the network output to a velocity."""

    name: str

    @abstractmethod
    def target(self, sample: PathSample) -> Tensor: ...

    @abstractmethod
    def to_velocity(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor: ...

    @abstractmethod
    def to_score(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor:
        """∇_x log p_t(x_t) of the network output: the path's conversion (a one-line error where it has none)."""

    def check(self, path: ProbabilityPath) -> None:
        """Raise if this parameterisation cannot be used with ``path``."""

    def data_end(self, path: ProbabilityPath) -> float:
        """Last time at which the velocity may be evaluated (1.0 unless singular there)."""
        return 1.0


class VelocityParameterization(Parameterization):
    """N_θ predicts dx_t/dt directly (flow matching)."""

    name = "velocity"

    def target(self, sample: PathSample) -> Tensor:
        return sample.dx_t

    def to_velocity(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor:
        return output

    def to_score(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor:
        return path.velocity_to_score(output, x_t, t)


class NoiseParameterization(Parameterization):
    """N_θ predicts the noise ε = x_0 (diffusion ε-matching); velocity by the path's conversion."""

    name = "noise"

    def target(self, sample: PathSample) -> Tensor:
        return sample.x_0

    def to_velocity(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor:
        return path.noise_to_velocity(output, x_t, t)  # type: ignore[attr-defined]

    def to_score(self, output: Tensor, x_t: Tensor, t: Tensor, path: ProbabilityPath) -> Tensor:
        return path.noise_to_score(output, t)  # type: ignore[attr-defined]

    def check(self, path: ProbabilityPath) -> None:
        if not isinstance(path, AffinePath):
            raise ValueError(
                f"parameterization 'noise' needs a Gaussian affine path (vpsde, gvp), got {type(path).__name__}"
            )
        alpha_0 = float(path.schedule(torch.tensor(0.0)).alpha)
        if alpha_0 <= 0.0:
            raise ValueError(
                "parameterization 'noise' converts to a velocity by dividing by α(t), which is 0 at t = 0 for "
                f"{type(path.schedule).__name__}; use parameterization 'velocity' with this path"
            )

    def data_end(self, path: ProbabilityPath) -> float:
        return path.t_max  # σ(1) = 0: the ε→velocity conversion is singular at the data end


PARAMETERIZATIONS: dict[str, Parameterization] = {
    p.name: p for p in (VelocityParameterization(), NoiseParameterization())
}


def get_parameterization(name: str) -> Parameterization:
    """Look up a parameterisation by name (``velocity`` or ``noise``)."""
    try:
        return PARAMETERIZATIONS[name]
    except KeyError:
        raise ValueError(f"unknown parameterization {name!r}; expected one of {sorted(PARAMETERIZATIONS)}") from None
