r"""Closed-form optimal transport between Gaussian measures (Bures-Wasserstein).

.. math::

    W_2^2\big(N(m_1, \Sigma_1), N(m_2, \Sigma_2)\big) = |m_1 - m_2|^2
        + \operatorname{tr}\Big(\Sigma_1 + \Sigma_2
        - 2 \big(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\big)^{1/2}\Big),

and, for Sigma_1 positive definite, the optimal map is affine,

.. math::

    T(x) = m_2 + A (x - m_1), \qquad
    A = \Sigma_1^{-1/2} \big(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\big)^{1/2} \Sigma_1^{-1/2},

with A symmetric positive semi-definite, so T is the gradient of a convex function
(Brenier). Used as a tool and as the test oracle of the sample solvers.

Numerical choice: matrix square roots by a symmetric eigen-decomposition with
negative round-off eigenvalues clipped to 0 (PSD-safe, real, float64), rather than
``scipy.linalg.sqrtm`` (which may return complex round-off for singular inputs).

References
----------
[1] Dowson, D. C., Landau, B. V. (1982). The Fréchet distance between multivariate normal
    distributions. J. Multivariate Anal. 12, 450-455.
[2] Peyré, G., Cuturi, M. (2019). Computational optimal transport, Remark 2.31.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_w2", "gaussian_ot_map", "sqrtm_psd"]


def _to_numpy(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


def _check(m, S, name: str):
    m = np.atleast_1d(_to_numpy(m, f"m{name}"))
    S = np.atleast_2d(_to_numpy(S, f"S{name}"))
    d = m.shape[0]
    if m.ndim != 1 or S.shape != (d, d):
        raise ValueError(f"S{name} must have shape ({d}, {d}) to match m{name} of shape {m.shape}, got {S.shape}")
    scale = max(1.0, float(np.abs(S).max()))
    if not np.allclose(S, S.T, atol=1e-10 * scale, rtol=0):
        raise ValueError(f"S{name} must be symmetric")
    if np.linalg.eigvalsh(0.5 * (S + S.T)).min() < -1e-10 * scale:
        raise ValueError(f"S{name} must be positive semi-definite")
    return m, 0.5 * (S + S.T)


def sqrtm_psd(S: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric square root (or pseudo-inverse square root) of a PSD matrix (d, d)."""
    lam, U = np.linalg.eigh(0.5 * (S + S.T))
    lam = np.clip(lam, 0.0, None)
    if inverse:
        tol = lam.max(initial=0.0) * 1e-12
        lam = np.where(lam > tol, 1.0 / np.sqrt(np.where(lam > tol, lam, 1.0)), 0.0)
    else:
        lam = np.sqrt(lam)
    return (U * lam) @ U.T


def gaussian_w2(m1, S1, m2, S2) -> float:
    r"""W2 (not squared) between N(m1, S1) and N(m2, S2), float.

    .. math::

        W_2^2 = |m_1 - m_2|^2 + \operatorname{tr}\big(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2}\big)

    Parameters
    ----------
    m1, m2 : (d,) means (NumPy or torch); S1, S2 : (d, d) symmetric PSD covariances.

    References
    ----------
    [1] Dowson & Landau (1982); [2] Peyré & Cuturi (2019), Remark 2.31.
    """
    m1, S1 = _check(m1, S1, "1")
    m2, S2 = _check(m2, S2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"m1 and m2 must have the same dimension, got {m1.shape} and {m2.shape}")
    r1 = sqrtm_psd(S1)
    cross = sqrtm_psd(r1 @ S2 @ r1)
    w2sq = float(((m1 - m2) ** 2).sum() + np.trace(S1) + np.trace(S2) - 2.0 * np.trace(cross))
    return float(np.sqrt(max(w2sq, 0.0)))


def gaussian_ot_map(m1, S1, m2, S2) -> tuple[np.ndarray, np.ndarray]:
    r"""Optimal map T(x) = m2 + A (x - m1) from N(m1, S1) to N(m2, S2); returns (A (d, d), m2 - A m1).

    .. math::

        A = S_1^{-1/2} (S_1^{1/2} S_2 S_1^{1/2})^{1/2} S_1^{-1/2}

    Apply as ``x @ A.T + shift`` (A is symmetric). S1 must be positive definite for T to be
    the unique optimal map (a pseudo-inverse is used otherwise).
    """
    m1, S1 = _check(m1, S1, "1")
    m2, S2 = _check(m2, S2, "2")
    r1, r1_inv = sqrtm_psd(S1), sqrtm_psd(S1, inverse=True)
    A = r1_inv @ sqrtm_psd(r1 @ S2 @ r1) @ r1_inv
    A = 0.5 * (A + A.T)
    return A, m2 - A @ m1
