r"""The clusters classification task of Chizat & Bach (COLT 2020, §5).

A k x k grid of cluster centres in [-1/2, 1/2]^2 with spacing Delta = 1/(3k - 1); a point of
cluster j is

    (x1, x2) = centre_j + R (cos T, sin T),   R ~ U[0, Delta],  T ~ U[0, 2 pi],

its label is the cluster's label y_j in {-1, +1} (floor(k^2/2) clusters negative, chosen at
random once per task), and d - 3 spurious coordinates are i.i.d. U[-1/2, 1/2], independent of
everything else. The input is

    x = (1, x1, x2, spurious_1, ..., spurious_{d-3})   in R^d,

the constant 1 being the bias coordinate, exactly as in the authors' code: train it with
``ReLU(d)`` (no ``bias=True``; the unit w . x already contains the bias w_0).

References
----------
1. L. Chizat & F. Bach, "Implicit bias of gradient descent for wide two-layer neural networks
   trained with the logistic loss", COLT 2020, §5 (numerical experiments).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["ClustersTask"]


@dataclass(frozen=True, eq=False)
class ClustersTask:
    """k x k clusters with fixed random labels; ``sample`` draws (x (N, d), y (N,)) from it.

    ``labels`` (k^2,) in {-1, +1}; ``centres`` (k^2, 2). Build with :meth:`random`.
    """

    d: int
    k: int
    centres: torch.Tensor  # (k^2, 2)
    labels: torch.Tensor  # (k^2,)

    @classmethod
    def random(
        cls, d: int, k: int = 3, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
    ) -> ClustersTask:
        """Grid of k^2 centres, floor(k^2/2) of them labelled -1 at random (the rest +1)."""
        if not isinstance(d, int) or d < 3:
            raise ValueError(f"clusters need d >= 3 (bias, x1, x2), got {d!r}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        delta = 1.0 / (3 * k - 1)
        ticks = -0.5 + delta + 3 * delta * torch.arange(k, dtype=dtype)  # first centre one radius inside
        cx, cy = torch.meshgrid(ticks, ticks, indexing="ij")
        centres = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1)  # (k^2, 2)
        labels = torch.ones(k * k, dtype=dtype)
        labels[torch.randperm(k * k, generator=generator)[: (k * k) // 2]] = -1.0
        return cls(d, k, centres, labels)

    @property
    def spacing(self) -> float:
        """Delta = 1 / (3k - 1): cluster radius; gaps between clusters are Delta wide."""
        return 1.0 / (3 * self.k - 1)

    def sample(self, N: int, *, generator: torch.Generator | None = None, return_cluster: bool = False):
        """N i.i.d. points: x (N, d) with x[:, 0] = 1, y (N,); optionally the cluster index (N,)."""
        dtype = self.centres.dtype
        j = torch.randint(0, self.k * self.k, (N,), generator=generator)
        R = self.spacing * torch.rand(N, generator=generator, dtype=dtype)
        T = 2 * math.pi * torch.rand(N, generator=generator, dtype=dtype)
        x = torch.empty(N, self.d, dtype=dtype)
        x[:, 0] = 1.0
        x[:, 1:3] = self.centres[j] + R[:, None] * torch.stack([torch.cos(T), torch.sin(T)], dim=1)
        x[:, 3:] = torch.rand(N, self.d - 3, generator=generator, dtype=dtype) - 0.5
        y = self.labels[j]
        return (x, y, j) if return_cluster else (x, y)

    def grid(self, resolution: int = 200, lim: float = 0.5):
        """Points of the (x1, x2) plane with spurious coordinates 0: x (r^2, d), X1, X2 (r, r)."""
        t = torch.linspace(-lim, lim, resolution, dtype=self.centres.dtype)
        X1, X2 = torch.meshgrid(t, t, indexing="xy")
        x = torch.zeros(resolution * resolution, self.d, dtype=self.centres.dtype)
        x[:, 0] = 1.0
        x[:, 1], x[:, 2] = X1.reshape(-1), X2.reshape(-1)
        return x, X1.numpy(), X2.numpy()
