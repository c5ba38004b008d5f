r"""W_p of clouds too large for an exact solver: an estimate inside a certified bracket.

.. math::

    \max_\ell L_\ell \;\le\; W_p(\mu, \nu) \;\le\; \min_{\pi \in \mathcal{C}}
        \langle \pi, |x - y|^p \rangle^{1/p} =: \widehat W_p ,

with the lower bounds L_l of :mod:`.bounds` (mean gap, Gelbrich, orthogonal projections,
max-sliced) and :mod:`.dual` (c-transforms of an entropic potential, near-tight on unrelated
clouds where the others stay near the moment bound; up to n m (k + 16) = DUAL_MAX), and a family C
of explicit couplings from :mod:`.couplings` (monotone couplings along the candidate
directions, the monotone coupling of T(x) and y for the Bures map T of the moments, the identity
when the clouds are paired, the multiscale coupling) improved by :mod:`.refine` (exact re-solves
on windows of nearby ranks of the best one, at every size; on k-means groups of the multiscale
one). The estimate is the cost of the best coupling: a value of W_p attained by a feasible plan,
never a different metric. Both sides are evaluated on the full clouds, in float64 whatever the
input dtype; only the search for directions and the dual potential subsample.

For a translation y = x + v the direction v / |v| makes both sides |v| (mean gap and Gelbrich
give |v| too); for y = A x + v with A symmetric positive definite the Bures map is A, so Gelbrich
is exact and the Bures-map coupling differs from the optimal pairing only by exchanges of
near-tied projections (rounding of the input), which the window re-solves undo: the bracket
closes up to round-off, in float32 as in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .bounds import coupling_stats, gelbrich_lower, mean_gap, moments, orthogonal_lower, top_direction
from .couplings import Coupling, coupling_cost_pp, multiscale_coupling, paired_coupling, sliced_couplings
from .dual import dual_lower, subsample_potential
from .gaussian import gaussian_ot_map
from .refine import local_resolve, window_resolve

__all__ = ["Bracket", "wasserstein_bracket", "MULTISCALE_MAX", "LOCAL_MAX", "DUAL_MAX"]

#: the bracket builds the multiscale coupling while max(n, m) k <= MULTISCALE_MAX coordinates, beyond which
#: it would exceed the time targets of benchmarks/bench_transport.py (there: its cost and its time per size)
MULTISCALE_MAX = 10_000_000
#: ... and re-solves it on k-means groups while max(n, m) k <= LOCAL_MAX (likewise sized by the benchmark)
LOCAL_MAX = 2_000_000
#: the dual bound runs three c-transforms over the full clouds, ~3 n m (k + 16) flops counting the min pass as
#: 16; skipped beyond n m (k + 16) = DUAL_MAX. Its potential comes from entropic OT between subsamples of
#: DUAL_SAMPLE points
DUAL_MAX = 20_000_000_000
DUAL_SAMPLE = 2000
#: the orthogonal-projection bound sorts k projections of both clouds; skipped beyond (n + m) k values
ORTHOGONAL_MAX = 50_000_000
#: window re-solves repair a coupling within (1 + WINDOW_GAP) of the best lower bound at every size: its errors
#: are then exchanges of near-tied projections. A coupling further off is refined by windows only where the
#: multiscale coupling, which does better there, does not run.
WINDOW_GAP = 0.5


@dataclass(frozen=True)
class Bracket:
    """Estimate of W_p (tensor, differentiable with the coupling fixed) with lower <= W_p <= upper.

    ``coupling`` is the best coupling found (its cost is the estimate); ``lower_by`` and ``upper_by`` give every
    bound computed, by name, as W_p values (not powers).
    """

    estimate: torch.Tensor
    lower: float
    upper: float
    coupling: Coupling
    lower_by: dict = field(default_factory=dict)
    upper_by: dict = field(default_factory=dict)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = np.linalg.norm(v)
    return v / n if n > 0 else None


def _directions(mx, my, Sx, Sy, k: int, n_random: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Candidate directions (k, L) and the eigenbasis Q (k, k) of Sigma_x - Sigma_y."""
    Q = np.linalg.eigh(0.5 * ((Sx - Sy) + (Sx - Sy).T))[1]
    cands = [u for u in (_unit(my - mx), Q[:, -1], Q[:, 0]) if u is not None]
    cands += list(rng.standard_normal((n_random, k)) / math.sqrt(k))
    return np.stack([c / np.linalg.norm(c) for c in cands], 1), Q


def _cost(x, y, c: Coupling, p: float) -> float:
    return coupling_stats(x, y, c, p, np.zeros(x.shape[1]), sample=1)[0] ** (1 / p)


def _max_sliced(x, y, wa, wb, p: float, theta: np.ndarray, refine: int, seed: int):
    """Best monotone coupling among the directions, and the max-sliced W_p^p with its direction refined."""
    best_c, best_pp, best_proj, dir_proj, M_best = None, math.inf, -math.inf, None, None
    th = theta
    for step in range(refine + 1):
        for l, c in enumerate(sliced_couplings(x, y, wa, wb, th)):
            full, proj, M = coupling_stats(x, y, c, p, th[:, l], seed=seed + step)
            if full < best_pp:
                best_c, best_pp = c, full
            if proj > best_proj:
                best_proj, dir_proj, M_best = proj, th[:, l], M
        assert M_best is not None and dir_proj is not None  # theta has at least one direction
        nxt = top_direction(M_best)
        if abs(float(nxt @ dir_proj)) > 1 - 1e-12:
            break  # fixed point: the displacement of the optimal 1-D coupling is along theta
        th = nxt[:, None]
    return best_c, best_pp, max(best_proj, 0.0)


def _narrow(x, y, a, b, p, w, stats, candidates, costs, lower_by, seed, multiscale, rtol) -> None:
    """The costlier steps, each run only while the bracket is wider than ``rtol``; they append
    to ``candidates``/``costs`` and ``lower_by`` in place."""
    (wa, wb), (mx, Sx, my, Sy, theta, Q) = w, stats
    n, m, k = x.shape[0], y.shape[0], x.shape[1]

    def loose() -> bool:  # the next, costlier, step can still narrow the bracket
        return min(costs) > max(lower_by.values()) * (1 + rtol)

    if loose():
        # y = A x + v with A symmetric PSD: the Bures map T of the moments is A itself, so T(x) and y
        # are the same set and sorting both along a generic direction recovers the optimal pairing
        A, shift = gaussian_ot_map(mx, 0.5 * (Sx + Sx.T), my, 0.5 * (Sy + Sy.T))
        c = sliced_couplings(x @ A.T + shift, y, wa, wb, theta[:, -1:])[0]
        candidates.append(replace(c, name="Gaussian-map sliced"))
        costs.append(_cost(x, y, candidates[-1], p))
    coarse = multiscale if multiscale is not None else max(n, m) * k <= MULTISCALE_MAX  # the multiscale step runs
    if loose() and (not coarse or min(costs) <= (1 + WINDOW_GAP) * max(lower_by.values())):
        # the best coupling so far stores its pairs in the order of a projection: exact re-solves on windows of
        # nearby ranks repair the exchanges of near-tied projections (refine.py), cheaply at every size
        floor = max(lower_by.values()) ** p  # lower bound of the cost: windows stop where they stop closing the gap
        candidates.append(window_resolve(x, y, candidates[int(np.argmin(costs))], p, floor=floor))
        costs.append(_cost(x, y, candidates[-1], p))
    if loose() and p >= 2 and (n + m) * k <= ORTHOGONAL_MAX:
        ta, tb = (None, None) if wa is None else (torch.from_numpy(a), torch.from_numpy(b))
        lower_by["orthogonal projections"] = orthogonal_lower(
            torch.from_numpy(x), torch.from_numpy(y), ta, tb, torch.from_numpy(Q)
        )
    if loose() and coarse:
        candidates.append(multiscale_coupling(x, y, a, b, p, seed=seed))
        costs.append(_cost(x, y, candidates[-1], p))
        if multiscale or max(n, m) * k <= LOCAL_MAX:
            candidates.append(local_resolve(x, y, candidates[int(np.argmin(costs))], p, seed=seed))
            costs.append(_cost(x, y, candidates[-1], p))
    if loose() and n * m * (k + 16) <= DUAL_MAX:
        xt, yt, at, bt = (torch.from_numpy(v) for v in (x, y, a, b))
        g, sub = subsample_potential(xt, yt, at, bt, p, sample=DUAL_SAMPLE, seed=seed)
        lower_by["dual (c-transform)"] = dual_lower(xt, yt, at, bt, p, g, sub)


def wasserstein_bracket(
    xt: torch.Tensor,
    yt: torch.Tensor,
    at: torch.Tensor,
    bt: torch.Tensor,
    p: float,
    *,
    uniform: bool,
    paired: bool = False,
    seed: int = 0,
    refine: int = 3,
    n_random: int = 2,
    multiscale: bool | None = None,
    rtol: float = 1e-6,
) -> Bracket:
    r"""Certified bracket and estimate of W_p between validated clouds (see the module docstring).

    Parameters
    ----------
    xt (n, k), yt (m, k), at (n,), bt (m,) : validated tensors (weights sum to 1).
    uniform : both weights uniform (fast sorting paths).
    paired : the caller asserts that x_i and y_i are the same particle (n = m, a = b): the
        identity coupling is added to the candidates.
    refine : max-sliced fixed-point steps; n_random : random candidate directions.
    multiscale : build the multiscale coupling and re-solve locally (None: the coupling while max(n, m) k <=
        MULTISCALE_MAX, its local re-solve while max(n, m) k <= LOCAL_MAX; True: both).
    rtol : costlier steps (Gaussian-map coupling, window re-solves, orthogonal-projection bound, multiscale
        coupling, dual bound) run, in that order, only while upper > (1 + rtol) lower.
    """
    x = xt.detach().cpu().numpy().astype(np.float64, copy=False)
    y = yt.detach().cpu().numpy().astype(np.float64, copy=False)
    n, m, k = x.shape[0], y.shape[0], x.shape[1]
    a, b = (np.full(len(v), 1.0 / len(v)) if uniform else v.detach().cpu().numpy().astype(np.float64) for v in (at, bt))
    a, b = a / a.sum(), b / b.sum()  # in float64, whatever the input dtype
    if paired and (n != m or not np.allclose(a, b, rtol=1e-12, atol=0)):
        raise ValueError(f"paired=True needs clouds of equal size and weights, got {n} and {m} points")
    mx, Sx = moments(x, a)
    my, Sy = moments(y, b)
    lower_by = {"mean gap": mean_gap(mx, my)}
    if p >= 2:  # W_p >= W_2 for probability measures
        lower_by["Gelbrich"] = gelbrich_lower(mx, Sx, my, Sy)
    theta, Q = _directions(mx, my, Sx, Sy, k, n_random, np.random.default_rng(seed))
    wa, wb = (None, None) if uniform else (a, b)
    best_c, best_pp, proj_pp = _max_sliced(x, y, wa, wb, p, theta, refine, seed)
    lower_by["max-sliced"] = proj_pp ** (1 / p)
    upper_by = {"sliced couplings": best_pp ** (1 / p)}
    candidates, costs = [best_c], [upper_by["sliced couplings"]]
    if paired:
        candidates.append(paired_coupling(n, a))
        costs.append(_cost(x, y, candidates[-1], p))
    _narrow(x, y, a, b, p, (wa, wb), (mx, Sx, my, Sy, theta, Q), candidates, costs, lower_by, seed, multiscale, rtol)
    for c, cost in zip(candidates[1:], costs[1:]):
        upper_by[c.name] = min(upper_by.get(c.name, math.inf), cost)
    best = candidates[int(np.argmin(costs))]
    lower = max(lower_by.values())
    est = coupling_cost_pp(xt, yt, best, p).clamp(min=0).pow(1.0 / p)  # float64
    upper = float(est.detach())  # the best coupling's cost, as returned (round-off consistent with the value)
    return Bracket(est, min(lower, upper), upper, best, lower_by, upper_by)
