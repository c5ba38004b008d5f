r"""The Wasserstein distance between weighted point clouds: one entry point, five solvers.

.. math::

    W_p(\mu, \nu) = \Big( \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p \Big)^{1/p},
    \qquad \Pi(a, b) = \{\pi \ge 0 : \pi 1_m = a, \ \pi^T 1_n = b\},

for mu = sum_i a_i delta_{x_i} and nu = sum_j b_j delta_{y_j}.

========== ============================================== ==================== ===========
method     what it computes                               cost                 relation
========== ============================================== ==================== ===========
"exact"    optimal coupling (network simplex; assignment  O(n^3) time, n m mem  = W_p
           for n = m <= 256 uniform points), float64
"1d"       sorted quantile functions (k = 1 only)         O((n+m) log(n+m))     = W_p
"sliced"   mean over random directions of 1-D W_p^p [3]   O(L (n+m) log(n+m))   <= W_p
"sinkhorn" debiased entropic S_eps^{1/p}, eps = blur^p    O(iters n m k)        -> W_p (blur -> 0)
"bracket"  "exact" up to ``max_exact`` points; beyond,    O(n k^2 + L n log n)  lower <= W_p <= upper
           the best coupling's cost inside certified
           bounds (bracket.py)
"auto"     "1d" if k = 1, otherwise "bracket"
========== ============================================== ==================== ===========

What "bracket" and "auto" return. Up to ``max_exact`` points per cloud they solve exactly
(``info.relation == "exact"``, lower = upper = value). Beyond, no solver computes W_p itself for
10^6 points in d = 100, and a different metric (sliced: |v| / sqrt(k) for a translation by v) or a
subsampled exact solve (biased upward by the empirical rate s^{-1/d}) would be a different number
under the name W_p. They therefore return the cost of the best explicit coupling found (an upper
bound, attained by a feasible plan), refined by exact local re-solves, together with certified
lower bounds: ``info.lower <= W_p <= info.upper = value`` and ``info.relation == "bracket"``
(``str(info)`` says so in words). The bracket closes, up to round-off, for translations and for
y = A x + v with A symmetric positive definite (Brenier pairs), in float32 as in float64; for two
unrelated clouds in high dimension it is wide and says so.

Numerics. Weights are normalised to sum 1. Couplings and their costs are computed in float64
whatever the input dtype ("sliced" and "sinkhorn" run in the input's dtype, as POT and GeomLoss
do). Clouds whose costs |x - y|^p would leave the dtype's range (coordinates near 1e30 in float32,
p in the hundreds) are first moved and rescaled (:func:`._checks.condition`); where even then
W_p^p would underflow (p too large for the clouds' spread), a one-line ValueError says so.

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

from ._checks import check_p, condition, is_torch, pair, same_measure
from .bracket import wasserstein_bracket
from .couplings import coupling_cost_pp, exact_coupling
from .entropic import SINKHORN_BLOCK_BYTES
from .sinkhorn import sinkhorn_divergence_pp
from .sliced import sliced_wasserstein_pp, wasserstein_1d_batched

__all__ = ["wasserstein", "WassersteinResult", "exact_plan", "METHODS"]

METHODS = ("auto", "exact", "1d", "sliced", "sinkhorn", "bracket")
#: "auto" and "bracket" solve exactly while both clouds have at most this many points
MAX_EXACT = 3000
#: default number of sliced projections, lowered for large clouds so that at most L (n + m) <=
#: SLICED_SORT_BUDGET values are sorted (sorting dominates; benchmarks/bench_transport.py times it), never below 16
DEFAULT_PROJECTIONS = 64
SLICED_SORT_BUDGET = 32_000_000


def default_projections(n: int, m: int) -> int:
    """Projections used when ``n_projections`` is None: 64, fewer (>= 16) for clouds beyond 10^6 points."""
    return int(min(DEFAULT_PROJECTIONS, max(16, SLICED_SORT_BUDGET // (n + m))))


@dataclass(frozen=True)
class WassersteinResult:
    """What :func:`wasserstein` computed, returned with ``return_info=True``.

    Attributes
    ----------
    value : W_p, or its estimate (float, or 0-dim tensor for torch input).
    method : the solver actually used ("exact", "1d", "bracket", "sliced" or "sinkhorn").
    relation : how ``value`` relates to W_p: "exact", "bracket" (the cost of the best coupling found,
        an upper bound, with lower <= W_p <= upper = value), "lower bound" (sliced) or "entropic
        approximation" (sinkhorn).
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

    def __str__(self) -> str:
        """What ``value`` is, in one line: e.g. ``W_2 in [1.0000, 1.0012] (certified); value 1.0012 = ...``."""
        w, v = f"W_{self.p:g}", float(self.value)
        if self.relation == "exact":
            return f"{w} = {v:.6g} (exact)"
        if self.relation == "bracket":
            return (
                f"{w} in [{self.lower:.6g}, {self.upper:.6g}] (certified, width {self.width:.2%}); value {v:.6g} = "
                f"cost of the best coupling found ({self.options.get('coupling', '?')}), an upper bound"
            )
        if self.relation == "lower bound":
            return f"sliced {w} = {v:.6g}, a lower bound of {w} ({self.options.get('n_projections')} directions)"
        return (
            f"Sinkhorn divergence S^(1/p) = {v:.6g}, an entropic approximation of {w} (blur {self.options.get('blur')})"
        )


def _numpy64(*ts: torch.Tensor) -> list[np.ndarray]:
    return [t.detach().cpu().numpy().astype(np.float64) for t in ts]


def exact_plan(x, y, a, b, p: float = 2.0, *, uniform: bool = False) -> np.ndarray:
    """Optimal plan pi (n, m) of the exact problem, float64 (validated tensors; ``uniform``: a, b are uniform)."""
    xn, yn, an, bn = _numpy64(x, y, a, b)
    c = exact_coupling(xn, yn, an / an.sum(), bn / bn.sum(), p, uniform=uniform)
    plan = np.zeros((len(xn), len(yn)))
    plan[c.rows, c.cols] = c.weights
    return plan


def _exact_pp(x, y, a, b, p, uniform):
    xn, yn, an, bn = _numpy64(x, y, a, b)
    # the cost on the support of the plan (<= n + m - 1 pairs), differentiable in x and y with
    # the plan fixed (envelope theorem)
    return coupling_cost_pp(x, y, exact_coupling(xn, yn, an / an.sum(), bn / bn.sum(), p, uniform=uniform), p)


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
    rtol: float = 1e-6,
    paired: bool = False,
    multiscale: bool | None = None,
    block_bytes: int | None = None,
    return_info: bool = False,
):
    r"""Wasserstein distance W_p (not its p-th power) between two weighted point clouds.

    .. math:: W_p(\mu, \nu)^p = \min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p

    Returns W_p — exactly, or for "bracket" and "auto" beyond ``max_exact`` the best coupling's cost (an upper
    bound, ``info.relation == "bracket"``) — a float for NumPy input, a 0-dim tensor of the input's dtype
    (differentiable in x and y) for torch input; ``(value, info)`` if ``return_info``. Raises a one-line ValueError
    on bad input (shapes, NaN/Inf, weights, method, "1d" with k > 1) or a p or blur beyond floating point here.

    Parameters
    ----------
    x : (n, k), y : (m, k) supports (1-D: k = 1); a : (n,), b : (m,) weights >= 0 (None = uniform),
        normalised to sum 1 (any positive finite sums are accepted).
    p : exponent >= 1; method : one of :data:`METHODS` (table in the module docstring).
    n_projections, seed : sliced directions (None = 64, fewer beyond 10^6 points) and their seed.
    blur, scaling, tol, max_iter : Sinkhorn length scale (eps = blur^p), eps-scaling ratio in (0, 1),
        tolerance on the potentials at the final blur (None: stop after the schedule), most iterations.
    max_exact, rtol : "auto" and "bracket" solve exactly up to max_exact points, and beyond refine while upper >
        (1 + rtol) lower.
    paired, multiscale : (bracket) x_i and y_i are the same particle (the identity coupling is a
        candidate); multiscale coupling (None: up to ``bracket.MULTISCALE_MAX`` coordinates n k); for
        "sinkhorn" the clustered, truncated kernel (k <= 3; None: beyond 10^7 pairs without ``tol``).
    block_bytes : memory bound of one block (sliced projections, Sinkhorn cost rows).
    return_info : also return a :class:`WassersteinResult`: ``info.lower <= W_p <= info.upper``;
        ``info.relation`` and ``str(info)`` say what the value is.
    """
    options = {k: v for k, v in locals().items() if k in _SOLVER_OPTIONS}  # the solver settings as passed
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    p = check_p(p)
    xt, yt, at, bt = pair(x, y, a, b)
    if method in ("auto", "bracket"):  # exact where it is cheap; "auto" in one dimension by quantiles
        small = max(xt.shape[0], yt.shape[0]) <= max_exact
        method = "1d" if method == "auto" and xt.shape[1] == 1 else "exact" if small else "bracket"
    xs, ys, scale = condition(xt, yt, p)
    wa, wb = (None, None) if a is None and b is None else (at, bt)  # None: the uniform fast paths
    out = _SOLVERS[method](xs, ys, wa, wb, at, bt, p, scale=scale, **options)
    info = _result(out, scale, (xs, ys, at, bt), p, method, xt.dtype if is_torch(x, y, a, b) else None)
    return (info.value, info) if return_info else info.value


def _result(out, scale: float, clouds, p: float, method: str, dtype) -> WassersteinResult:
    """The solver's output in the caller's units: value a tensor of ``dtype``, or a float if dtype is None."""
    value, relation, lower, upper, bounds, used = out
    v = float(value.detach())
    # a zero is underflow only where p is so large that a W_p at the coordinates' resolution would underflow too;
    # for smaller p it says the clouds differ below float64's resolution at their scale, and 0 is the answer
    small = (v == 0 and p * _RESOLUTION < _UNDERFLOW) or (v > 0 and p * math.log2(v) < _UNDERFLOW)
    if method != "sinkhorn" and small and not same_measure(*clouds):
        raise ValueError(
            f"p = {p:g} is too large for these clouds: W_p^p underflows float64 at their scale "
            f"(W_p is {f'2^{math.log2(v):.0f} of' if v > 0 else 'below float64 resolution at'} their diameter); "
            "use a smaller p"
        )
    value = (value * scale).to(dtype or torch.float64)
    if relation == "exact":
        lower = upper = float(value.detach())
    else:
        lower, upper = lower * scale, upper * scale
        bounds = {side: {name: b * scale for name, b in bs.items()} for side, bs in bounds.items()}
    n, m = clouds[0].shape[0], clouds[1].shape[0]
    value = value if dtype is not None else float(value)
    return WassersteinResult(value, method, relation, p, n, m, used, lower, upper, bounds)


#: log2 of the smallest W_p^p (conditioned clouds, diameter <= 1) trusted to carry its digits: 2^24 above float64's
#: smallest normal number
_UNDERFLOW = math.log2(np.finfo(np.float64).tiny) + 24
#: log2 of float64's resolution relative to the conditioned clouds' diameter
_RESOLUTION = math.log2(np.finfo(np.float64).eps)

_SOLVER_OPTIONS = (
    *("n_projections", "seed", "blur", "scaling", "tol", "max_iter"),
    *("rtol", "paired", "multiscale", "block_bytes"),
)


# One solver per method: (xt, yt, wa, wb, at, bt, p, scale=, **options) -> (value, relation, lower, upper, bounds,
# options), on clouds conditioned by the factor ``scale`` (values and bounds in their units). wa / wb are None for
# uniform weights (the fast paths); at / bt always hold the weights.
def _solve_exact(xt, yt, wa, wb, at, bt, p, **_):
    return _clamp_root(_exact_pp(xt, yt, at, bt, p, wa is None), p), "exact", 0.0, math.inf, {}, {}


def _solve_1d(xt, yt, wa, wb, at, bt, p, **_):
    if xt.shape[1] != 1:
        raise ValueError(f"method='1d' needs one-dimensional points, got x of shape {tuple(xt.shape)}")
    return _clamp_root(wasserstein_1d_batched(xt.T, yt.T, wa, wb, p)[0], p), "exact", 0.0, math.inf, {}, {}


def _solve_bracket(xt, yt, wa, wb, at, bt, p, *, seed, paired, multiscale, rtol, **_):
    seed = int(seed)
    br = wasserstein_bracket(
        xt, yt, at, bt, p, uniform=wa is None, paired=paired, seed=seed, multiscale=multiscale, rtol=float(rtol)
    )
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


def _power(s: float, p: float) -> float:
    """s^p, inf where it overflows."""
    try:
        return s**p
    except OverflowError:
        return math.inf


def _solve_sinkhorn(xt, yt, wa, wb, at, bt, p, *, blur, scaling, tol, max_iter, block_bytes, multiscale, scale, **_):
    # the clouds are conditioned by ``scale``: lengths (blur) and costs (tol) follow, S_eps scales by scale^p
    S, iters = sinkhorn_divergence_pp(
        xt,
        yt,
        at,
        bt,
        p=p,
        blur=float(blur) / scale,
        scaling=float(scaling),
        tol=None if tol is None else float(tol) / _power(scale, p),
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
