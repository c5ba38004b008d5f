r"""Distances between particle systems: tracked particles and the Chizat-Bach sphere projection.

Tracked particles. When the same particle is known at two times (or in two runs
started from the same draw), the identity coupling pi = sum_i a_i delta_{(theta_i, theta'_i)}
is admissible, so

.. math::

    W_2(\mu, \mu') \le \Big( \sum_i a_i |\theta_i - \theta'_i|^2 \Big)^{1/2}
    \qquad (a_i = 1/n \text{ by default}),

at O(n p) cost. The bound is an equality exactly when the identity is an optimal
assignment, i.e. when the pairs (theta_i, theta'_i) are cyclically monotone: for
instance theta' = grad phi(theta) with phi convex (a translation, a symmetric PSD
linear map, Brenier maps). One step of gradient flow is such a map for small steps:
theta' = theta - h grad V(theta) = grad(|theta|^2/2 - h V) with |theta|^2/2 - h V convex
when h lambda_max(Hess V) < 1, so the bound is tight between close snapshots and
W2(mu_t, mu_{t+h}) / h -> ||grad V||_{L^2(mu_t)}. Over long times the composed map need
not be a gradient (particles overtake one another) and the bound is loose.

2-homogeneous units (Chizat & Bach 2018). For phi(x; theta) = c relu(w.x),
phi(x; r u) = r^2 phi(x; u), so a measure mu on R^p acts on functions only through
its projection on the sphere

.. math::

    \int g \, d h(\mu) = \int |\theta|^2 \, g(\theta / |\theta|) \, d\mu(\theta),

a measure on S^{p-1} with total mass sum_i a_i |theta_i|^2 (the path norm of the network,
the variation-norm bound of f). Splitting by the sign of c gives the positive and
negative parts of the signed measure that represents f. Distances between two
projections compare the *directions* carried by the network, weighted by their mass.

References
----------
[1] Chizat, L., Bach, F. (2018). On the global convergence of gradient descent for
    over-parameterized models using optimal transport. NeurIPS (§2.3, projection h).
[2] Villani, C. (2009). Optimal transport, old and new, Thm 5.10 (cyclical monotonicity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._checks import as_cloud, as_weights, is_torch
from .distances import wasserstein

__all__ = ["tracked_w2", "SphereMeasure", "sphere_projection", "projected_w2"]


def tracked_w2(theta, theta2, weights=None):
    r"""Identity-coupling upper bound on W2 between tracked particles, sqrt(sum_i a_i |theta_i - theta'_i|^2).

    .. math::

        W_2\Big(\sum_i a_i \delta_{\theta_i}, \sum_i a_i \delta_{\theta'_i}\Big)
        \le \Big( \sum_i a_i |\theta_i - \theta'_i|^2 \Big)^{1/2}

    Parameters
    ----------
    theta, theta2 : (n, p) positions of the same n particles (NumPy or torch).
    weights : (n,) non-negative weights a_i (normalised to sum 1); None = uniform 1/n.

    Returns
    -------
    float (0-dim tensor for torch input). Tight iff the identity is an optimal assignment
    (see the module docstring: e.g. between close snapshots of a gradient flow).
    """
    t1, t2 = as_cloud(theta, "theta"), as_cloud(theta2, "theta2")
    if t1.shape != t2.shape:
        raise ValueError(
            f"tracked particles need equal shapes, got theta: {tuple(t1.shape)} and theta2: {tuple(t2.shape)}"
        )
    dtype = torch.promote_types(t1.dtype, t2.dtype)
    t1, t2 = t1.to(dtype), t2.to(dtype)
    a = as_weights(weights, t1.shape[0], "weights", t1)
    value = (a * ((t1 - t2) ** 2).sum(1)).sum().sqrt()
    return value if is_torch(theta, theta2, weights) else float(value)


@dataclass(frozen=True)
class SphereMeasure:
    """A measure on the unit sphere S^{p-1}: sum_i mass_i delta_{points_i}.

    Attributes
    ----------
    points : (n', p) unit vectors theta_i / |theta_i| (particles with theta_i = 0 dropped).
    mass : (n',) masses a_i |theta_i|^2 / total, summing to 1 (a probability measure).
    total : sum_i a_i |theta_i|^2, the total mass before normalisation.
    index : (n',) indices of the kept particles in the input.
    """

    points: np.ndarray
    mass: np.ndarray
    total: float
    index: np.ndarray


def _project(theta: np.ndarray, a: np.ndarray, keep: np.ndarray, part: str) -> SphereMeasure:
    r2 = (theta * theta).sum(1)
    keep = keep & (r2 > 0)
    idx = np.flatnonzero(keep)
    m = a[idx] * r2[idx]
    total = float(m.sum())
    if total <= 0:
        raise ValueError(f"the {part} part of the projection has no mass (no particle with theta != 0 there)")
    return SphereMeasure(theta[idx] / np.sqrt(r2[idx])[:, None], m / total, total, idx)


def sphere_projection(theta, weights=None, *, split: bool = False):
    r"""Chizat-Bach projection of a 2-homogeneous particle measure onto the sphere.

    .. math::

        h(\mu) = \sum_i a_i |\theta_i|^2 \, \delta_{\theta_i / |\theta_i|}
        \quad \text{on } S^{p-1}, \text{ normalised to mass 1 (total kept in ``.total``)}

    Parameters
    ----------
    theta : (n, p) particles, column 0 the output weight c (``wg.ReLU`` layout); NumPy or torch.
    weights : (n,) weights a_i (None = uniform 1/n).
    split : also split by the sign of c: returns (positive part, negative part), each
        normalised separately (particles with c = 0 carry no signed mass and are dropped).

    Returns
    -------
    :class:`SphereMeasure`, or a pair of them if ``split``.

    References
    ----------
    [1] Chizat & Bach (2018), NeurIPS, §2.3.
    """
    t = as_cloud(theta, "theta").detach().cpu().to(torch.float64)
    a = as_weights(weights, t.shape[0], "weights", t).numpy()
    tn = t.numpy()  # (n, p)
    if not split:
        return _project(tn, a, np.ones(len(a), dtype=bool), "whole")
    c = tn[:, 0]
    return _project(tn, a, c > 0, "positive (c > 0)"), _project(tn, a, c < 0, "negative (c < 0)")


def projected_w2(theta, theta2, weights=None, weights2=None, *, split: bool = False, method: str = "auto", **options):
    r"""W2 between the normalised sphere projections of two 2-homogeneous particle measures.

    .. math::

        W_2\big(\bar h(\mu), \bar h(\mu')\big), \qquad \bar h(\mu) = h(\mu) / h(\mu)(S^{p-1}),

    with the chordal (Euclidean) distance of R^p between points of the sphere (within a factor
    pi/2 of the geodesic one). The widths may differ.

    Parameters
    ----------
    theta : (n, p), theta2 : (n', p) particles; weights, weights2 : their weights (None = uniform).
    split : compare positive and negative parts separately; returns (W2_plus, W2_minus).
    method, options : passed to :func:`wasserstein`.

    Returns
    -------
    float, or a pair of floats if ``split``.
    """
    h1 = sphere_projection(theta, weights, split=split)
    h2 = sphere_projection(theta2, weights2, split=split)
    if not split:
        h1, h2 = (h1,), (h2,)
    out = tuple(
        float(wasserstein(u.points, v.points, u.mass, v.mass, p=2, method=method, **options)) for u, v in zip(h1, h2)
    )
    return out if split else out[0]
