r"""Scores of how close a residual stack's data tracks are to a Wasserstein geodesic.

.. math::

    \tilde x^0 = x^0,\ \tilde x^l = \tilde x^{l-1} + \frac{x^l - x^{l-1}}{|x^l - x^{l-1}|},\quad
    \mathrm{LSS} = \frac{L'}{|\tilde x^L - \tilde x^0|} \ge 1;\qquad
    \mathrm{OTS} = \frac1m \#\{i : T(x_i) = y_i\};

    K = \sum_k h \Big\| \frac{x^{k+1} - x^k}{h} \Big\|^2_{L^2(\mu_k)} \;\ge\; W_2^2(\mu_0, \mu_L)
    \quad (h = 1/L).

Line-shape and optimal-transport scores of Gai & Zhang (2021, arXiv 2102.09235); kinetic
energy and its Benamou–Brenier lower bound (Benamou & Brenier 2000, Numer. Math. 84),
attained only by the McCann interpolation x_t = (1-t) x + t T(x) along the OT map T.

Tracks have shape (L+1, m, k): (layer, sample, feature).
"""

from __future__ import annotations

import numpy as np

from wgflow.transport import ot_assignment, wasserstein

__all__ = [
    "line_shape_score",
    "optimal_transport_score",
    "kinetic_energy",
    "w2_squared",
    "kinetic_ratio",
    "mccann_interpolation",
    "output_spread",
    "LSS",
]


class LSS(dict):
    """Per-sample line-shape scores ``values`` (m,) with their ``mean`` and ``std``."""

    @property
    def mean(self) -> float:
        return self["mean"]

    @property
    def std(self) -> float:
        return self["std"]

    @property
    def values(self) -> np.ndarray:  # type: ignore[override]  # the "values" entry of this result dict, not dict.values()
        return self["values"]


def line_shape_score(tracks, eps: float = 1e-12) -> LSS:
    """Per-sample LSS of tracks (L+1, m, k) by the cumulative unit-step walk.

    Zero-length steps (|x^l - x^{l-1}| <= eps, e.g. a layer that does not move a sample)
    have no direction: they are *skipped*, so L' counts only the moving steps. A sample that
    never moves gets LSS = 1 (a point is a degenerate straight track). A walk that returns
    to its start (|x̃^L - x̃^0| <= eps) gets LSS = inf.
    """
    X = np.asarray(tracks, dtype=float)
    dX = np.diff(X, axis=0)  # (L, m, k)
    n = np.linalg.norm(dX, axis=-1)  # (L, m)
    moving = n > eps
    units = np.where(moving[..., None], dX / np.where(moving, n, 1.0)[..., None], 0.0)
    end = np.linalg.norm(units.sum(0), axis=-1)  # (m,)
    steps = moving.sum(0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(steps == 0, 1.0, np.where(end > eps, steps / np.maximum(end, eps), np.inf))
    with np.errstate(invalid="ignore"):  # std of an infinite score is nan, by design
        return LSS(values=v, mean=float(np.mean(v)), std=float(np.std(v)))


def optimal_transport_score(x, y, rtol: float = 1e-9) -> float:
    """Fraction of samples that the exact optimal assignment x_i -> y_{σ(i)} maps to their own output.

    x, y: (m, k) inputs and outputs of an equal-width stack. Uses
    :func:`wgflow.transport.ot_assignment` (an exact assignment) on the squared-distance cost (the discrete OT map between two
    uniform m-point measures is a permutation, Birkhoff).

    Ties: a map is a function of points, so sample i counts as mapped to its own output when
    the *point* it is assigned, y_{σ(i)}, equals y_i within ``rtol`` times the spread of y,
    not only when σ(i) = i. Samples with coinciding outputs are interchangeable and the
    score does not depend on how the solver breaks the tie. In particular a collapsed
    network (all outputs equal) scores 1: the constant map is the unique OT map onto a
    Dirac mass. That is correct but says nothing about transport, so report the spread of
    the outputs beside the score (:func:`output_spread`).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    col = ot_assignment(x, y, p=2)
    tol = rtol * max(output_spread(y), np.finfo(float).tiny)
    return float(np.mean(np.linalg.norm(y[col] - y, axis=-1) <= tol))


def output_spread(y) -> float:
    """Root-mean-square distance of the points y (m, k) to their mean (0 for a collapsed output)."""
    y = np.asarray(y, float)
    return float(np.sqrt(((y - y.mean(0)) ** 2).sum(-1).mean()))


def w2_squared(x, y) -> float:
    """Exact W2^2 between the uniform measures on the rows of x (m, k) and y (n, k) (:func:`wgflow.transport.wasserstein`)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(wasserstein(x, y, p=2, method="exact")) ** 2


def kinetic_energy(tracks) -> float:
    r"""Discrete kinetic energy Σ_k h mean_i |(x_i^{k+1} - x_i^k)/h|^2 with h = 1/L."""
    X = np.asarray(tracks, dtype=float)
    L = X.shape[0] - 1
    return float(L * (np.diff(X, axis=0) ** 2).sum(-1).mean(-1).sum())


def kinetic_ratio(tracks) -> float:
    """K / W2^2(μ_0, μ_L) >= 1 (Benamou–Brenier), = 1 exactly on the geodesic.

    Undefined when μ_L = μ_0 (W2² = 0): nan if nothing moved either (K = 0, a switched-off
    stream), inf if the particles moved and came back (K > 0).
    """
    X = np.asarray(tracks, dtype=float)
    K, W = kinetic_energy(X), w2_squared(X[0], X[-1])
    if W > 0:
        return K / W
    return float("nan") if K == 0 else float("inf")


def mccann_interpolation(x, y, n_steps: int) -> np.ndarray:
    """Tracks (n_steps+1, m, k) of x_t = (1-t) x_i + t y_{σ(i)}, σ the optimal assignment."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    col = ot_assignment(x, y, p=2)
    t = np.linspace(0, 1, n_steps + 1)[:, None, None]
    return (1 - t) * x[None] + t * y[col][None]
