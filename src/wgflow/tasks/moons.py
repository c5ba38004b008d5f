r"""Generated 2-D classification tasks: two moons, interleaved spirals and Gaussian blobs.

Two moons: x = (cos s, sin s) and (1 - cos s, 1/2 - sin s), s ~ U[0, π], plus N(0, noise²).
Spirals: class j ∈ {0, .., K-1}, r ~ U[0.1, 1], angle = 2π(turns·r) + 2πj/K, x = r(cos, sin) + noise.
Blobs: class j ∈ {0, .., K-1} ~ N(sep·(cos 2πj/K, sin 2πj/K), std² I) — overlapping clusters whose
separation (pushing the class means apart, x -> x g(x) radially monotone) is the gradient of a
convex potential, i.e. itself an optimal-transport map (Brenier), unlike the shear that parts
two moons.
Used by the residual-network experiments (Thorpe & van Gennip 2023; Gai & Zhang 2021).
Returns (x (m, 2) float, y (m,) int64 labels), standardised to zero mean and unit scale.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["two_moons", "spirals", "blobs"]


def _out(x, y, dtype):
    x = (x - x.mean(0)) / x.std()
    return torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=torch.long)


def two_moons(m: int, noise: float = 0.1, seed: int = 0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    y = np.arange(m) % 2
    s = rng.uniform(0, np.pi, m)
    x = np.where(y[:, None] == 0, np.stack([np.cos(s), np.sin(s)], 1), np.stack([1 - np.cos(s), 0.5 - np.sin(s)], 1))
    return _out(x + noise * rng.standard_normal((m, 2)), y, dtype)


def spirals(m: int, n_classes: int = 2, turns: float = 0.75, noise: float = 0.03, seed: int = 0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    y = np.arange(m) % n_classes
    r = rng.uniform(0.1, 1.0, m)
    a = 2 * np.pi * turns * r + 2 * np.pi * y / n_classes
    x = r[:, None] * np.stack([np.cos(a), np.sin(a)], 1)
    return _out(x + noise * rng.standard_normal((m, 2)), y, dtype)


def blobs(m: int, n_classes: int = 4, sep: float = 1.0, std: float = 0.45, seed: int = 0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    y = np.arange(m) % n_classes
    a = 2 * np.pi * y / n_classes
    x = sep * np.stack([np.cos(a), np.sin(a)], 1) + std * rng.standard_normal((m, 2))
    return _out(x, y, dtype)
