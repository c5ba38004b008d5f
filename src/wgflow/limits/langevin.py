r"""Mean-field Langevin dynamics: free energy, k-NN entropy and the proximal Gibbs density.

.. math::

    \mathcal F_\lambda(\mu) = R(\mu) + \frac{wd}{2}\int |\theta|^2 d\mu + \lambda \int \mu \log \mu,
    \qquad
    \hat p_\mu(\theta) = \frac{1}{Z} \exp\Big(-\frac{V(\theta; \mu) + \tfrac{wd}{2}|\theta|^2}{\lambda}\Big).

Noisy particle gradient descent theta <- theta - eta (grad V + wd theta) + sqrt(2 lambda eta) xi
(:func:`wgflow.train` with ``noise=lambda``) discretises d_t mu = div(mu grad(V + wd|.|^2/2)) +
lambda Laplacian(mu), the Wasserstein gradient flow of F_lambda; F_lambda decreases along it and
its stationary law mu* is a fixed point of the proximal Gibbs map, mu* = p_{mu*} (Chizat 2022,
Nitanda, Wu & Suzuki 2022). Annealing lambda_t -> 0 approaches the unregularised minimum.

* :func:`knn_entropy` estimates the differential entropy H(mu) = -\int mu log mu of the particles
  by Kozachenko & Leonenko (1987): with eps_i the distance of particle i to its k-th neighbour in R^p,
  H = psi(n) - psi(k) + log V_p + (p/n) sum_i log eps_i  (V_p the volume of the unit ball).
* :func:`free_energy` combines it with the objective's risk.
* :func:`gibbs_density` evaluates p_mu on a grid (low dimension p <= 3) from the objective's own
  first variation V(theta; mu) (:meth:`Objective.V`), frozen coordinates held at fixed values.

References
----------
1. L. Chizat, "Mean-field Langevin dynamics: exponential convergence and annealing", TMLR 2022.
2. A. Nitanda, D. Wu & T. Suzuki, "Convex analysis of the mean field Langevin dynamics", AISTATS 2022.
3. L. F. Kozachenko & N. N. Leonenko, "Sample estimate of the entropy of a random vector",
   Problems Inform. Transmission 23 (1987).
4. S. Mei, A. Montanari & P.-M. Nguyen, PNAS 2018 (noisy SGD, fixed point rho* ∝ exp(-beta Psi)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from ..measures.measure import ParticleMeasure
from ..objectives.risks import Objective

__all__ = ["knn_entropy", "FreeEnergy", "free_energy", "GridDensity", "gibbs_density"]


def knn_entropy(x: np.ndarray, k: int = 1) -> tuple[float, float]:
    r"""Kozachenko-Leonenko estimate of H = -\int p log p from samples x (n, p); returns (H, standard error).

    The standard error is p std(log eps_i) / sqrt(n) (the terms are weakly dependent; a guide, not a bound).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    if n <= k:
        raise ValueError(f"knn_entropy needs more than k = {k} samples, got {n}")
    eps = cKDTree(x).query(x, k=k + 1)[0][:, k]  # (n,), column 0 is the point itself
    if (eps <= 0).any():
        raise ValueError("knn_entropy: duplicate samples (zero neighbour distance)")
    log_vp = 0.5 * p * math.log(math.pi) - gammaln(0.5 * p + 1)
    le = np.log(eps)
    H = digamma(n) - digamma(k) + log_vp + p * le.mean()
    return float(H), float(p * le.std() / math.sqrt(n))


@dataclass(frozen=True)
class FreeEnergy:
    """F = risk + wd/2 m2 - lambda H, with the entropy's standard error (times lambda) in ``se``."""

    value: float
    risk: float
    m2: float  # \int |theta|^2 dmu over the trained coordinates
    entropy: float  # H(mu) = -\int mu log mu (k-NN estimate)
    se: float

    def to_dict(self) -> dict:
        return {"value": self.value, "risk": self.risk, "m2": self.m2, "entropy": self.entropy, "se": self.se}


def free_energy(
    mu: ParticleMeasure,
    objective: Objective,
    lam: float,
    weight_decay: float = 0.0,
    *,
    columns=None,
    k: int = 1,
    alpha: float = 1.0,
) -> FreeEnergy:
    """F_lambda(mu_n) with the entropy of the particles' ``columns`` (default: all) by :func:`knn_entropy`."""
    theta = mu.numpy() if columns is None else mu.numpy()[:, list(columns)]
    H, se = knn_entropy(theta, k)
    m2 = float((theta**2).sum(1).mean())
    R = objective.risk(mu, alpha)
    return FreeEnergy(R + 0.5 * weight_decay * m2 - lam * H, R, m2, H, lam * se)


@dataclass
class GridDensity:
    """A density on a tensor grid: ``density`` (len(axes[0]), ..., len(axes[-1])), integrating to 1."""

    axes: list
    density: np.ndarray
    potential: np.ndarray  # (V + wd |theta|^2 / 2) on the grid

    @property
    def cell(self) -> float:
        return float(np.prod([a[1] - a[0] for a in self.axes]))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n points (n, q): a cell drawn with probability p * cell, then uniform within it."""
        pm = (self.density * self.cell).ravel()
        idx = rng.choice(pm.size, size=n, p=pm / pm.sum())
        sub = np.unravel_index(idx, self.density.shape)
        pts = [a[i] + (rng.random(n) - 0.5) * (a[1] - a[0]) for a, i in zip(self.axes, sub)]
        return np.stack(pts, axis=1)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        mesh = np.stack(np.meshgrid(*self.axes, indexing="ij"), -1).reshape(-1, len(self.axes))
        w = (self.density * self.cell).ravel()
        m = w @ mesh
        c = (mesh - m).T @ ((mesh - m) * w[:, None])
        return m, c


def gibbs_density(
    objective: Objective,
    mu: ParticleMeasure,
    lam: float,
    axes,
    *,
    weight_decay: float = 0.0,
    columns=None,
    fixed=None,
    alpha: float = 1.0,
) -> GridDensity:
    r"""Proximal Gibbs density p ∝ exp(-(V(theta; mu) + wd/2 |theta_cols|^2)/lambda) on a grid.

    Parameters
    ----------
    axes : list of 1-D uniform grids, one per entry of ``columns``.
    columns : the coordinates of theta the grid spans (default: all p); the others are held at
        ``fixed`` (a (p,) array, e.g. a frozen output weight c = 1). The density is over the columns.
    """
    p = mu.p
    columns = list(range(p)) if columns is None else list(columns)
    if len(axes) != len(columns):
        raise ValueError(f"need one axis per column, got {len(axes)} axes for columns {columns}")
    if lam <= 0:
        raise ValueError(f"temperature lambda must be positive, got {lam}")
    axes = [np.asarray(a, dtype=np.float64) for a in axes]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))  # (G, q)
    base = np.zeros(p) if fixed is None else np.asarray(fixed, dtype=np.float64)
    theta = np.tile(base, (mesh.shape[0], 1))
    theta[:, columns] = mesh
    th = torch.from_numpy(theta).to(mu.theta.dtype)
    with torch.no_grad():
        V = torch.cat([objective.V(th[s : s + 8192], mu, alpha) for s in range(0, th.shape[0], 8192)]).cpu().numpy()
    U = V + 0.5 * weight_decay * (mesh**2).sum(1)
    logp = -(U - U.min()) / lam
    dens = np.exp(logp).reshape([len(a) for a in axes])
    cell = float(np.prod([a[1] - a[0] for a in axes]))
    dens /= dens.sum() * cell
    return GridDensity(axes, dens, U.reshape(dens.shape))
