r"""Teacher networks and input samplers.

A ReLU teacher is itself a particle measure (docs/science.md §1.1)::

    f*(x) = (1/m0) sum_j c*_j relu(w*_j . x),

so the exact population risk of a ReLU student against it follows from the
arc-cosine kernel (:mod:`wgflow.objectives.closed_forms`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..measures.measure import ParticleMeasure
from ..measures.units import ReLU

__all__ = ["ReLUTeacher", "gaussian_sampler", "sphere_sampler"]


def gaussian_sampler(d: int) -> Callable[..., torch.Tensor]:
    """x ~ N(0, I_d): ``sample(B, generator=None, dtype=float32) -> (B, d)``."""

    def sample(B: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32, device="cpu"):
        return torch.randn(B, d, generator=generator, dtype=dtype, device=device)

    sample.d = d  # type: ignore[attr-defined]  # the law tagged on the function; EnsembleRisk reads it to batch draws
    sample.law = "gaussian"  # type: ignore[attr-defined]  # the law tagged on the function; EnsembleRisk reads it to batch draws
    return sample


def sphere_sampler(d: int, radius: float | None = None) -> Callable[..., torch.Tensor]:
    """x uniform on S^{d-1}(radius), radius sqrt(d) by default (RVE §4)."""
    r = math.sqrt(d) if radius is None else float(radius)

    def sample(B: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32, device="cpu"):
        g = torch.randn(B, d, generator=generator, dtype=dtype, device=device)
        return r * g / g.norm(dim=1, keepdim=True)

    sample.d = d  # type: ignore[attr-defined]  # the law tagged on the function; EnsembleRisk reads it to batch draws
    sample.law = "sphere"  # type: ignore[attr-defined]  # the law tagged on the function; EnsembleRisk reads it to batch draws
    sample.radius = r  # type: ignore[attr-defined]  # the law tagged on the function; EnsembleRisk reads it to batch draws
    return sample


@dataclass(frozen=True, eq=False)
class ReLUTeacher:
    """f*(x) = (1/m0) sum_j c*_j relu(w*_j . x); ``measure`` holds theta* = (c*, w*) (m0, 1+d)."""

    measure: ParticleMeasure

    @classmethod
    def random(
        cls,
        d: int,
        m0: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        signs: str = "positive",
        norm: float = 1.0,
    ) -> ReLUTeacher:
        """Teacher with w*_j uniform on the sphere of radius ``norm`` and c*_j = 1
        (``signs="positive"``) or random ±1 (``signs="random"``)."""
        if not isinstance(m0, int) or m0 < 1:
            raise ValueError(f"teacher width m0 must be a positive integer, got {m0!r}")
        w = torch.randn(m0, d, generator=generator, dtype=dtype)
        w = norm * w / w.norm(dim=1, keepdim=True)
        if signs == "positive":
            c = torch.ones(m0, dtype=dtype)
        elif signs == "random":
            c = torch.where(torch.rand(m0, generator=generator, dtype=dtype) < 0.5, -1.0, 1.0).to(dtype)
        else:
            raise ValueError(f"signs must be 'positive' or 'random', got {signs!r}")
        theta = torch.cat([c[:, None], w], dim=1)
        return cls(ParticleMeasure(theta, ReLU(d)))

    @property
    def d(self) -> int:
        return self.measure.unit.d

    @property
    def m0(self) -> int:
        return self.measure.n

    @property
    def c(self) -> torch.Tensor:
        return self.measure.theta[:, 0]

    @property
    def w(self) -> torch.Tensor:
        return self.measure.theta[:, 1:]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.measure.output(x.to(self.measure.theta.dtype)).to(x.dtype)
