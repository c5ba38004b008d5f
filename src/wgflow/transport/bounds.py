r"""Certified lower bounds on W_p between point clouds, cheap enough for 10^6 points.

Each bound holds for the empirical measures themselves (no sampling argument):

* **mean gap** — |m_mu - m_nu| <= W_1 <= W_p (Jensen on any coupling).
* **Gelbrich** — for p >= 2, W_p >= W_2 >= Bures(N(m_mu, Sigma_mu), N(m_nu, Sigma_nu)) [1]:
  the Gaussian with the same first two moments is the closest pair in W_2.
* **orthogonal projections** — for an orthonormal basis (q_1, ..., q_k) and any coupling,
  sum_r |q_r . (x - y)|^2 = |x - y|^2, so (Paty & Cuturi 2019 [2], Prop. 1 in spirit)

  .. math::

      W_2^2(\mu, \nu) \ge \sum_{r=1}^k W_2^2(q_{r\#} \mu, q_{r\#} \nu),

  k one-dimensional problems, exact for translations and for y = A x + v with A symmetric
  and x's covariance commuting with A (when q diagonalises both covariances).
* **max-sliced** — max_theta W_p(theta_# mu, theta_# nu) <= W_p for every unit theta [3];
  theta is optimised by the fixed point theta <- top eigenvector of the displacement
  second moment E_pi[(x - y)(x - y)^T] of the monotone coupling pi along theta (the
  alternating step of subspace-robust W for a one-dimensional subspace [2]).

References
----------
[1] Gelbrich, M. (1990). On a formula for the L2 Wasserstein metric between measures on
    Euclidean and Hilbert spaces. Math. Nachr. 147, 185-203.
[2] Paty, F.-P., Cuturi, M. (2019). Subspace robust Wasserstein distances. ICML.
[3] Deshpande, I. et al. (2019). Max-sliced Wasserstein distance and its use for GANs. CVPR.
"""

from __future__ import annotations

import numpy as np
import torch

from .couplings import COST_BLOCK, Coupling
from .gaussian import gaussian_w2
from .sliced import projected_pp

__all__ = ["moments", "mean_gap", "gelbrich_lower", "orthogonal_lower", "coupling_stats", "top_direction"]


def moments(x: np.ndarray, a: np.ndarray, block: int = 2**16) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (k,) and covariance (k, k) of the rows of x (n, k), centred block by block."""
    m = a @ x
    S = np.zeros((x.shape[1], x.shape[1]))
    for s in range(0, len(x), block):
        xc = x[s : s + block] - m  # (block, k)
        S += xc.T @ (xc * a[s : s + block, None])
    return m, S


def mean_gap(mx: np.ndarray, my: np.ndarray) -> float:
    """|m_mu - m_nu|, a lower bound of W_p for every p >= 1."""
    return float(np.linalg.norm(mx - my))


def gelbrich_lower(mx, Sx, my, Sy) -> float:
    """Bures distance of the moment-matched Gaussians, a lower bound of W_2 (and of W_p, p >= 2)."""
    return gaussian_w2(mx, 0.5 * (Sx + Sx.T), my, 0.5 * (Sy + Sy.T))


def orthogonal_lower(x: torch.Tensor, y: torch.Tensor, a, b, Q: torch.Tensor) -> float:
    """sqrt(sum_r W_2^2(q_r# mu, q_r# nu)) over the orthonormal columns of Q (k, r), a lower bound of W_2."""
    return float(projected_pp(x, y, a, b, 2.0, Q).sum().clamp(min=0).sqrt())


def coupling_stats(
    x: np.ndarray, y: np.ndarray, c: Coupling, p: float, theta: np.ndarray, sample: int = 20_000, seed: int = 0
) -> tuple[float, float, np.ndarray]:
    r"""(<pi, |x - y|^p>, <pi, |theta.(x - y)|^p>, M) for a coupling pi, with M the displacement second moment.

    The first is an upper bound of W_p^p; the second equals W_p^p(theta_# mu, theta_# nu) when pi is
    the monotone coupling along theta. M = E_pi[(x - y)(x - y)^T] (k, k) is estimated on at most
    ``sample`` pairs (it only steers the next direction, it certifies nothing).
    """
    full = proj = 0.0
    for s in range(0, len(c.rows), COST_BLOCK):
        D = x[c.rows[s : s + COST_BLOCK]] - y[c.cols[s : s + COST_BLOCK]]  # (block, k)
        w = c.weights[s : s + COST_BLOCK]
        d2 = np.einsum("ij,ij->i", D, D)
        full += float(w @ (d2 if p == 2 else d2 ** (p / 2)))
        proj += float(w @ np.abs(D @ theta) ** p)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(c.rows), size=sample, replace=False) if len(c.rows) > sample else slice(None)
    D = x[c.rows[pick]] - y[c.cols[pick]]
    w = c.weights[pick]
    return full, proj, (D * (w / w.sum())[:, None]).T @ D


def top_direction(M: np.ndarray) -> np.ndarray:
    """Unit eigenvector (k,) of the largest eigenvalue of the symmetric matrix M."""
    return np.linalg.eigh(0.5 * (M + M.T))[1][:, -1]
