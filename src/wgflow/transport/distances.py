r"""The Wasserstein distance between weighted point clouds: one entry point, five solvers.

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
"bracket"  estimate inside certified bounds (bracket.py)  O(n k^2 + L n log n)  lower <= W_p <= upper
"auto"     "1d" if k = 1; "exact" if n, m <= max_exact;
           otherwise "bracket"
========== ============================================== ==================== ===========

What "auto" returns for large clouds. No solver computes W_p itself for 10^6 points in
d = 100, and a different metric (sliced: |v| / sqrt(k) for a translation by v) or a
subsampled exact solve (biased upward by the empirical rate s^{-1/d}) would be a
different number under the name W_p. "auto" therefore returns, beyond ``max_exact``,
the cost of the best explicit coupling it finds (an upper bound, attained by a feasible
plan) together with certified lower bounds: with ``return_info=True``,
``info.lower <= W_p <= info.upper`` and ``info.relation == "bracket"``. The bracket is
tight for translations (width 0 up to round-off) and for y = A x + v with A symmetric
positive definite and isotropic x; for two unrelated clouds in high dimension it is wide
and says so. Exact answers have ``info.relation == "exact"`` and lower = upper = value.

References
----------
[1] Peyré, G., Cuturi, M. (2019). Computational optimal transport. Found. Trends Mach.
    Learn. 11(5-6), §2-3 (network simplex, §3.1), §4 (entropic OT).
[2] Flamary, R. et al. (2021). POT: Python optimal transport. JMLR 22(78).
[3] Bonneel, N., Rabin, J., Peyré, G., Pfister, H. (2015). Sliced and Radon Wasserstein
    barycenters of measures. J. Math. Imaging Vis. 51, 22-45.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._checks import check_p, is_torch, pair
from .bracket import wasserstein_bracket
from .couplings import Coupling, cost_matrix, coupling_cost_pp, emd_plan
from .entropic import SINKHORN_BLOCK_BYTES
from .sinkhorn import sinkhorn_divergence_pp
from .sliced import sliced_wasserstein_pp, wasserstein_1d_batched

__all__ = ["wasserstein", "WassersteinResult", "ApproximationWarning", "exact_plan", "METHODS"]

METHODS = ("auto", "exact", "1d", "sliced", "sinkhorn", "bracket")
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
    """Kept for callers that filter it: ``method="auto"`` no longer warns, its ``info`` carries the bracket."""


@dataclass(frozen=True)
class WassersteinResult:
    """What :func:`wasserstein` computed, returned with ``return_info=True``.

    Attributes
    ----------
    value : W_p, or its estimate (float, or 0-dim tensor for torch input).
    method : the solver actually used ("exact", "1d", "bracket", "sliced" or "sinkhorn").
    relation : how ``value`` relates to W_p: "exact", "bracket" (an estimate with
        lower <= W_p <= upper), "lower bound" (sliced) or "entropic approximation" (sinkhorn).
    p, n, m : exponent and the two cloud sizes.
    options : solver settings used (n_projections, seed, blur, scaling, iterations).
    lower, upper : certified bounds, lower <= W_p <= upper (equal to ``value`` when exact;
        0 and inf where the method certifies nothing on that side).
    bounds : every bound computed by "bracket", {"lower": {name: value}, "upper": {name: value}}.
    """

    value: Any
    method: str
    relation: str
    p: float
    n: int
    m: int
    options: dict = field(default_factory=dict)
    lower: float = 0.0
    upper: float = math.inf
    bounds: dict = field(default_factory=dict)

    @property
    def width(self) -> float:
        """Relative width upper / lower - 1 of the bracket (0 when exact, inf if lower = 0 < upper)."""
        if self.upper == self.lower:
            return 0.0
        return self.upper / self.lower - 1.0 if self.lower > 0 else math.inf

    def __float__(self) -> float:
        return float(self.value)


def exact_plan(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> np.ndarray:
    """Optimal plan pi (n, m) of the exact problem by POT's network simplex, float64 (validated inputs)."""
    xn = x.detach().cpu().numpy().astype(np.float64)
    yn = y.detach().cpu().numpy().astype(np.float64)
    an = a.detach().cpu().numpy().astype(np.float64)
    bn = b.detach().cpu().numpy().astype(np.float64)
    return emd_plan(an / an.sum(), bn / bn.sum(), cost_matrix(xn, yn, p))


def _exact_pp(x, y, a, b, p):
    plan = exact_plan(x, y, a, b, p)
    i, j = np.nonzero(plan)
    # the cost on the support of the plan (<= n + m - 1 pairs), differentiable in x and y with
    # the plan fixed (envelope theorem)
    return coupling_cost_pp(x, y, Coupling(i.astype(np.int64), j.astype(np.int64), plan[i, j]), p)


def _clamp_root(v: torch.Tensor, p: float) -> torch.Tensor:
    return v.clamp(min=0).pow(1.0 / p)


def wasserstein(
    x,
    y,
    a=None,
    b=None,
    *,
    p: float = 2,
    method: str = "auto",
    n_projections: int | None = None,
    seed: int = 0,
    blur: float = 0.05,
    scaling: float = 0.5,
    tol: float | None = None,
    max_iter: int = 1000,
    max_exact: int = MAX_EXACT,
    paired: bool = False,
    multiscale: bool | None = None,
    block_bytes: int | None = None,
    return_info: bool = False,
):
    r"""Wasserstein distance W_p (not its p-th power) between two weighted point clouds.

    .. math:: W_p(\mu, \nu)^p = \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p

    Parameters
    ----------
    x : (n, k), y : (m, k) supports (1-D: k = 1); a : (n,), b : (m,) weights >= 0 (None = uniform).
    p : exponent >= 1; method : one of :data:`METHODS` (table in the module docstring).
    n_projections, seed : sliced directions (None = 64, fewer beyond 10^6 points) and their seed.
    blur, scaling, tol, max_iter : Sinkhorn length scale (eps = blur^p), eps-scaling ratio in (0, 1),
        tolerance on the potentials at the final blur (None: stop after the schedule), most iterations.
    max_exact : largest cloud that "auto" solves exactly; beyond it "auto" is "bracket".
    paired, multiscale : (bracket) x_i and y_i are the same particle (the identity coupling is a
        candidate); multiscale coupling (None: up to ``bracket.MULTISCALE_MAX`` coordinates n k); for
        "sinkhorn" the clustered, truncated kernel (k <= 3; None: beyond 10^7 pairs without ``tol``).
    block_bytes : memory bound of one block (sliced projections, Sinkhorn cost rows).
    return_info : also return a :class:`WassersteinResult` with ``info.lower <= W_p <= info.upper``.

    Returns W_p (for "bracket": the cost of the best coupling found, an upper bound) as a float for
    NumPy input, a 0-dim tensor (differentiable in x and y) for torch input; ``(value, info)`` if
    ``return_info``. Raises ValueError on mismatched dimensions, NaN/Inf, bad weights, an unknown
    method, or "1d" with k > 1.
    """
    options = {k: v for k, v in locals().items() if k in _SOLVER_OPTIONS}  # the solver settings as passed
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    p = check_p(p)
    xt, yt, at, bt = pair(x, y, a, b)
    n, m, k = xt.shape[0], yt.shape[0], xt.shape[1]
    if method == "auto":
        method = "1d" if k == 1 else ("exact" if max(n, m) <= max_exact else "bracket")
    wa, wb = (None, None) if a is None and b is None else (at, bt)  # None: the uniform fast paths
    value, relation, lower, upper, bounds, used = _SOLVERS[method](xt, yt, wa, wb, at, bt, p, **options)
    if relation == "exact":
        lower = upper = float(value.detach())
    if not is_torch(x, y, a, b):
        value = float(value)
    if return_info:
        return value, WassersteinResult(value, method, relation, p, n, m, used, lower, upper, bounds)
    return value


_SOLVER_OPTIONS = ("n_projections", "seed", "blur", "scaling", "tol", "max_iter", "paired", "multiscale", "block_bytes")


# One solver per method: (xt, yt, wa, wb, at, bt, p, **options) -> (value, relation, lower, upper, bounds,
# options). wa / wb are None for uniform weights (the fast paths); at / bt always hold the weights.
def _solve_exact(xt, yt, wa, wb, at, bt, p, **_):
    return _clamp_root(_exact_pp(xt, yt, at, bt, p), p), "exact", 0.0, math.inf, {}, {}


def _solve_1d(xt, yt, wa, wb, at, bt, p, **_):
    if xt.shape[1] != 1:
        raise ValueError(f"method='1d' needs one-dimensional points, got x of shape {tuple(xt.shape)}")
    return _clamp_root(wasserstein_1d_batched(xt.T, yt.T, wa, wb, p)[0], p), "exact", 0.0, math.inf, {}, {}


def _solve_bracket(xt, yt, wa, wb, at, bt, p, *, seed, paired, multiscale, **_):
    seed = int(seed)
    br = wasserstein_bracket(xt, yt, at, bt, p, uniform=wa is None, paired=paired, seed=seed, multiscale=multiscale)
    return (
        br.estimate,
        "bracket",
        br.lower,
        br.upper,
        {"lower": br.lower_by, "upper": br.upper_by},
        {"seed": seed, "coupling": br.coupling.name},
    )


def _solve_sliced(xt, yt, wa, wb, at, bt, p, *, n_projections, seed, block_bytes, **_):
    seed = int(seed)
    if n_projections is None:
        n_projections = default_projections(xt.shape[0], yt.shape[0])
    if int(n_projections) < 1:
        raise ValueError(f"n_projections must be a positive integer, got {n_projections}")
    kw = {} if block_bytes is None else {"block_bytes": int(block_bytes)}
    value = _clamp_root(sliced_wasserstein_pp(xt, yt, wa, wb, p, int(n_projections), seed, **kw), p)
    return (
        value,
        "lower bound",
        float(value.detach()),
        math.inf,
        {},
        {"n_projections": int(n_projections), "seed": seed},
    )


def _solve_sinkhorn(xt, yt, wa, wb, at, bt, p, *, blur, scaling, tol, max_iter, block_bytes, multiscale, **_):
    S, iters = sinkhorn_divergence_pp(
        xt,
        yt,
        at,
        bt,
        p=p,
        blur=float(blur),
        scaling=float(scaling),
        tol=tol,
        max_iter=int(max_iter),
        block_bytes=int(block_bytes or SINKHORN_BLOCK_BYTES),
        multiscale=multiscale,
    )
    return (
        _clamp_root(S, p),
        "entropic approximation",
        0.0,
        math.inf,
        {},
        {"blur": float(blur), "scaling": float(scaling), "tol": tol, "iterations": iters},
    )


_SOLVERS: dict[str, Callable[..., Any]] = {
    "exact": _solve_exact,
    "1d": _solve_1d,
    "bracket": _solve_bracket,
    "sliced": _solve_sliced,
    "sinkhorn": _solve_sinkhorn,
}
