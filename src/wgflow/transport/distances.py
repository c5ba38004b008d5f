r"""The Wasserstein distance between weighted point clouds: one entry point, four solvers.

.. math::

    W_p(\mu, \nu) = \Big( \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p \Big)^{1/p},
    \qquad \Pi(a, b) = \{\pi \ge 0 : \pi 1_m = a, \ \pi^T 1_n = b\},

for mu = sum_i a_i delta_{x_i} and nu = sum_j b_j delta_{y_j}.

========== ============================================== ==================== ===========
method     what it computes                               cost                 relation
========== ============================================== ==================== ===========
"exact"    network simplex (POT ``emd``) in float64       O(n^3) time, n m mem  = W_p
"1d"       sorted quantile functions (k = 1 only)         O((n+m) log(n+m))     = W_p
"sliced"   mean over random directions of 1-D W_p^p [3]   O(L (n+m) log(n+m))   <= W_p
"sinkhorn" debiased entropic S_eps^{1/p}, eps = blur^p    O(iters n m k)        -> W_p (blur -> 0)
"auto"     "1d" if k = 1; "exact" if n, m <= max_exact;
           otherwise "sliced" (a lower bound, see below)
========== ============================================== ==================== ===========

Why "auto" falls back to sliced. No estimator of W_p itself is both accurate and fast
for 10^6 points in d = 100: an exact solve on subsamples of s points is biased upward
by the empirical rate s^{-1/d} (in d = 100, two disjoint subsamples of one cloud are
far apart), and Sinkhorn needs ~10^12 kernel evaluations per iteration. The sliced
distance is the quantity that *can* be computed (a few seconds for 10^6 points, see
``benchmarks/bench_transport.py``): it is a metric, differentiable, and a lower bound of
W_p, but it is a different number (for a translation by v it is |v| / sqrt(k) for p = 2).
``auto`` therefore says what it did: ``return_info=True`` gives the method, and a
:class:`ApproximationWarning` is raised when it leaves the exact regime.

References
----------
[1] Peyré, G., Cuturi, M. (2019). Computational optimal transport. Found. Trends Mach.
    Learn. 11(5-6), §2-3 (network simplex, §3.1), §4 (entropic OT).
[2] Flamary, R. et al. (2021). POT: Python optimal transport. JMLR 22(78).
[3] Bonneel, N., Rabin, J., Peyré, G., Pfister, H. (2015). Sliced and Radon Wasserstein
    barycenters of measures. J. Math. Imaging Vis. 51, 22-45.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ot
import torch

from ._checks import check_p, is_torch, pair
from .sinkhorn import SINKHORN_BLOCK_BYTES, sinkhorn_divergence_pp
from .sliced import wasserstein_1d_batched, sliced_wasserstein_pp

__all__ = ["wasserstein", "WassersteinResult", "ApproximationWarning", "exact_plan", "METHODS"]

METHODS = ("auto", "exact", "1d", "sliced", "sinkhorn")
#: "auto" solves exactly while both clouds have at most this many points (~2 s at 3000 in d = 10)
MAX_EXACT = 3000
#: default number of sliced projections, lowered for large clouds so that at most L (n + m) <=
#: SLICED_SORT_BUDGET values are sorted (sorting dominates: 2 x 10^6 points in d = 100 with 16
#: projections take 2-5 s on 2 shared cores, see benchmarks/bench_transport.py), never below 16
DEFAULT_PROJECTIONS = 64
SLICED_SORT_BUDGET = 32_000_000


def default_projections(n: int, m: int) -> int:
    """Projections used when ``n_projections`` is None: 64, fewer (>= 16) for clouds beyond 10^6 points."""
    return int(min(DEFAULT_PROJECTIONS, max(16, SLICED_SORT_BUDGET // (n + m))))


class ApproximationWarning(UserWarning):
    """``method="auto"`` returned an estimate, not W_p itself (the clouds were too large)."""


@dataclass(frozen=True)
class WassersteinResult:
    """What :func:`wasserstein` computed, returned with ``return_info=True``.

    Attributes
    ----------
    value : W_p (float, or 0-dim tensor for torch input).
    method : the solver actually used ("exact", "1d", "sliced" or "sinkhorn").
    relation : how ``value`` relates to W_p: "exact", "lower bound" (sliced) or
        "entropic approximation" (sinkhorn).
    p, n, m : exponent and the two cloud sizes.
    options : solver settings used (n_projections, seed, blur, scaling, iterations).
    """

    value: Any
    method: str
    relation: str
    p: float
    n: int
    m: int
    options: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)


def _cost_matrix(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    if p == 2:
        return ot.dist(x, y, metric="sqeuclidean")
    return ot.dist(x, y, metric="euclidean") ** p


def exact_plan(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> np.ndarray:
    """Optimal plan pi (n, m) of the exact problem by POT's network simplex, float64 (validated inputs)."""
    xn = x.detach().cpu().numpy().astype(np.float64)
    yn = y.detach().cpu().numpy().astype(np.float64)
    an = a.detach().cpu().numpy().astype(np.float64)
    bn = b.detach().cpu().numpy().astype(np.float64)
    an, bn = an / an.sum(), bn / bn.sum()
    M = _cost_matrix(xn, yn, p)
    # the simplex needs ~n m pivots on hard instances; POT's default cap (1e5) is too low beyond n ~ 300
    plan, log = ot.emd(an, bn, M, numItermax=max(100_000, 50 * M.size), log=True)
    if log.get("result_code", 1) != 1:
        raise RuntimeError(f"network simplex did not converge: {log.get('warning')}")
    return plan


def _exact_pp(x, y, a, b, p):
    plan = exact_plan(x, y, a, b, p)
    i, j = np.nonzero(plan)
    # sum_ij pi_ij |x_i - y_j|^p in torch on the support of the plan (<= n + m - 1 pairs):
    # differentiable in x and y with the plan fixed (envelope theorem)
    ii, jj = torch.from_numpy(i).to(x.device), torch.from_numpy(j).to(x.device)
    w = torch.from_numpy(plan[i, j]).to(dtype=x.dtype, device=x.device)
    diff = x[ii] - y[jj]  # (nnz, k)
    d2 = (diff * diff).sum(1)
    if p == 2:
        return (w * d2).sum()
    # |x - y|^p = (d2)^{p/2}, with the subgradient 0 where a point is matched to itself (p < 2)
    pos = d2 > 0
    return (w * torch.where(pos, torch.where(pos, d2, 1.0).pow(p / 2), 0.0)).sum()


def _clamp_root(v: torch.Tensor, p: float) -> torch.Tensor:
    return v.clamp(min=0).pow(1.0 / p)


def wasserstein(x, y, a=None, b=None, *, p: float = 2, method: str = "auto", n_projections: int | None = None,
                seed: int = 0, blur: float = 0.05, scaling: float = 0.5, tol: float | None = None,
                max_iter: int = 1000, max_exact: int = MAX_EXACT,
                block_bytes: int | None = None, return_info: bool = False):
    r"""Wasserstein distance W_p (not its p-th power) between two weighted point clouds.

    .. math::

        W_p(\mu, \nu)^p = \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p

    Parameters
    ----------
    x : (n, k) array or tensor, support of mu (1-D input means k = 1).
    y : (m, k) array or tensor, support of nu.
    a : (n,) non-negative weights of x (normalised to sum 1); None = uniform.
    b : (m,) non-negative weights of y; None = uniform.
    p : exponent >= 1 (keyword-only from here on).
    method : "auto", "exact", "1d", "sliced" or "sinkhorn" (table in the module docstring).
    n_projections : directions of the sliced estimate (Monte Carlo error ~ 1 / sqrt(n_projections));
        None = 64, lowered for large clouds to sort at most 3.2 * 10^7 values (16 at n = m = 10^6).
    seed : seed of the sliced directions (same seed, same directions, same value).
    blur : Sinkhorn length scale, eps = blur^p, in the units of x.
    scaling : Sinkhorn eps-scaling ratio in (0, 1).
    tol : Sinkhorn stopping tolerance on the potentials at the final blur (None: stop after
        the eps-scaling schedule, fast but not converged at small blur).
    max_iter : most Sinkhorn iterations at the final blur when ``tol`` is given (a
        RuntimeWarning says when they did not reach it).
    max_exact : largest cloud size that "auto" solves exactly.
    block_bytes : memory bound of one block (sliced projections, Sinkhorn cost rows).
    return_info : also return a :class:`WassersteinResult` saying which method was used.

    Returns
    -------
    W_p as a float for NumPy input, as a 0-dim tensor (in x's dtype, differentiable in
    x and y for every method) for torch input; ``(value, WassersteinResult)`` if
    ``return_info``.

    Raises
    ------
    ValueError : mismatched dimensions, NaN/Inf, negative or non-normalisable weights,
        an unknown method, or "1d" with k > 1.

    References
    ----------
    [1] Peyré, G., Cuturi, M. (2019). Computational optimal transport, §2-4.
    [2] Flamary, R. et al. (2021). POT: Python optimal transport. JMLR 22(78).
    [3] Feydy, J. et al. (2019). Interpolating between optimal transport and MMD using
        Sinkhorn divergences. AISTATS.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    p = check_p(p)
    as_tensor = is_torch(x, y, a, b)
    xt, yt, at, bt = pair(x, y, a, b)
    n, m, k = xt.shape[0], yt.shape[0], xt.shape[1]
    uniform = a is None and b is None
    chosen = method
    if n_projections is None:
        n_projections = default_projections(n, m)
    if method == "auto":
        chosen = "1d" if k == 1 else ("exact" if max(n, m) <= max_exact else "sliced")
        if chosen == "sliced":
            warnings.warn(f"wasserstein(method='auto'): {n} x {m} points exceed max_exact={max_exact}; "
                          f"returning the sliced distance ({n_projections} projections), a lower bound of W_p",
                          ApproximationWarning, stacklevel=2)
    options: dict = {}
    if chosen == "exact":
        value, relation = _clamp_root(_exact_pp(xt, yt, at, bt, p), p), "exact"
    elif chosen == "1d":
        if k != 1:
            raise ValueError(f"method='1d' needs one-dimensional points, got x of shape {tuple(xt.shape)}")
        wa, wb = (None, None) if uniform else (at, bt)
        value, relation = _clamp_root(wasserstein_1d_batched(xt.T, yt.T, wa, wb, p)[0], p), "exact"
    elif chosen == "sliced":
        if int(n_projections) < 1:
            raise ValueError(f"n_projections must be a positive integer, got {n_projections}")
        wa, wb = (None, None) if uniform else (at, bt)
        kw = {} if block_bytes is None else {"block_bytes": int(block_bytes)}
        value = _clamp_root(sliced_wasserstein_pp(xt, yt, wa, wb, p, int(n_projections), int(seed), **kw), p)
        relation, options = "lower bound", {"n_projections": int(n_projections), "seed": int(seed)}
    else:
        S, iters = sinkhorn_divergence_pp(xt, yt, at, bt, p=p, blur=float(blur), scaling=float(scaling), tol=tol,
                                          max_iter=int(max_iter), block_bytes=int(block_bytes or SINKHORN_BLOCK_BYTES))
        value, relation = _clamp_root(S, p), "entropic approximation"
        options = {"blur": float(blur), "scaling": float(scaling), "tol": tol, "iterations": iters}
    if not as_tensor:
        value = float(value)
    if return_info:
        return value, WassersteinResult(value, chosen, relation, p, n, m, options)
    return value
