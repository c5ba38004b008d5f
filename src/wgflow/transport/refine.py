r"""Lowering the cost of a coupling by exact re-solves on groups of its pairs.

For a coupling pi (:mod:`.couplings`) and a group G of its pairs, the sub-plan pi_G is replaced
by an optimal plan between its own marginals,

.. math::

    \pi_G \leftarrow \arg\min \{ \langle \pi', C \rangle : \pi' \ge 0, \
        \pi' 1 = \pi_G 1, \ \pi'^T 1 = \pi_G^T 1 \}.

The marginals of the whole are kept, so the result is a coupling, and pi_G is feasible for its
own sub-problem, so the cost cannot rise. A re-solve is kept only where its cost, summed pair by
pair from the differences as a coupling's cost is, is lower: round-off cannot raise it either.
Groups of two pairs are 2-exchanges; a coupling is optimal exactly when its support is cyclically
monotone [1], which exchanges within groups approach. Two ways to group:

* :func:`window_resolve` — windows of w consecutive pairs in the coupling's stored order, at
  offsets 0 and w/2 in turn. A monotone coupling (:func:`.couplings.sliced_couplings`) stores its
  pairs in the order of the projections. When y = T(x) for the gradient T of a convex function
  (a Brenier map) and the coupling sorts T(x) and y along a direction, it differs from the optimal
  pairing only where projections nearly tie: rounding (float32 input rounds y = T(x) by up to
  2^-24 |y|) or an estimated T reorders neighbours, so the errors are exchanges between nearby
  ranks, and windows repair them exactly. Permutations take a batched path: the (w, w) costs of
  many windows come from one batched GEMM, and a window is solved (by assignment) only when its
  pairs are not all row minima of its cost matrix — the sum of the row minima bounds every
  assignment from below, so a window whose pairs attain it is already optimal.
* :func:`local_resolve` — compact groups by recursive k-means of the pairs' midpoints, redrawn
  every round, for couplings whose stored order means nothing (the multiscale coupling).

References
----------
[1] Villani, C. (2009). Optimal transport, old and new, Thm 5.10 (cyclical monotonicity).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .couplings import Coupling, assignment, cost_matrix, coupling_cost_pp, emd_plan, kmeans_clusters, pair_costs

__all__ = ["resolve_groups", "window_resolve", "local_resolve", "WINDOW_BLOCK_BYTES"]

#: bytes of one batch of window cost matrices and gathered points in :func:`window_resolve`
WINDOW_BLOCK_BYTES = 2**25


def _resolve(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray, w: np.ndarray, p: float):
    """The exact plan between the marginals of the sub-plan (rows, cols, w) where it costs less, else the sub-plan;
    returns (rows, cols, weights, the cost it saved).

    A sub-permutation of equal masses is re-solved by :func:`.couplings.assignment`, keeping its rows in
    place; any other sub-plan by the network simplex.
    """
    ri, rinv = np.unique(rows, return_inverse=True)
    cj, cinv = np.unique(cols, return_inverse=True)
    if len(ri) == 1 or len(cj) == 1:  # the product plan is the only coupling of these marginals
        return rows, cols, w, 0.0
    if len(ri) == len(cj) == len(rows) and np.all(w == w[0]):
        r, q, pw = rows, cj[assignment(cost_matrix(x[ri], y[cj], p))[rinv]], w
    else:
        ra, cb = np.bincount(rinv, w), np.bincount(cinv, w)
        P = emd_plan(ra / ra.sum(), cb / cb.sum(), cost_matrix(x[ri], y[cj], p)) * ra.sum()  # (|ri|, |cj|)
        i, j = np.nonzero(P)
        r, q, pw = ri[i], cj[j], P[i, j]
    gain = float(w @ pair_costs(x[rows], y[cols], p) - pw @ pair_costs(x[r], y[q], p))
    return (r, q, pw, gain) if gain > 0 else (rows, cols, w, 0.0)


def resolve_groups(x: np.ndarray, y: np.ndarray, c: Coupling, p: float, groups, name: str) -> Coupling:
    """``c`` with its sub-plan on each group re-solved exactly where that costs less (module docstring).

    x (n, k), y (m, k) float64; ``groups`` index arrays or slices that partition the pairs of c; the
    result lists its pairs group by group, in the order of ``groups``.
    """
    return _resolve_all(x, y, c, p, groups, name)[0]


def _resolve_all(x, y, c: Coupling, p: float, groups, name: str) -> tuple[Coupling, float]:
    """:func:`resolve_groups` and the cost it saved."""
    parts = [_resolve(x, y, c.rows[g], c.cols[g], c.weights[g], p) for g in groups]
    rows, cols, weights = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return Coupling(rows, cols, weights, name), sum(part[3] for part in parts)


def _window_costs(x, y, rows, cols, idx, size, p) -> torch.Tensor:
    """(B, w, w) costs |x_{rows[idx[b, i]]} - y_{cols[idx[b, j]]}|^p of B windows idx (B, w) in one batched GEMM.

    Window b holds its first size[b] entries; the rest is padding, kept out of every assignment (cost 0 on
    the padding's own diagonal, +inf against the window's pairs).
    """
    X = torch.from_numpy(x[rows[idx]])  # (B, w, k)
    Y = torch.from_numpy(y[cols[idx]])  # (B, w, k)
    ctr = X.mean(1, keepdim=True)  # centred per window: the matmul form then cancels only the window's own scale
    X, Y = X - ctr, Y - ctr
    C = torch.baddbmm((X * X).sum(2)[:, :, None] + (Y * Y).sum(2)[:, None, :], X, Y.transpose(1, 2), alpha=-2.0)
    C = C.clamp_(min=0) if p == 2 else C.clamp_(min=0).pow_(p / 2)
    pad = torch.from_numpy(np.arange(idx.shape[1]) >= size[:, None])  # (B, w)
    C.masked_fill_(pad[:, :, None] | pad[:, None, :], torch.inf)
    C.diagonal(dim1=1, dim2=2).masked_fill_(pad, 0.0)  # a view: writes C's diagonal
    return C


def _permutation_windows(x, y, rows, cols, p: float, bounds: np.ndarray) -> float:
    """Re-solves the windows [bounds[i], bounds[i + 1]) of a permutation (rows, cols); updates cols in place.

    Returns the cost saved, sum_r |x_{rows[r]} - y_{cols[r]}|^p before minus after (masses 1).
    """
    starts, size = bounds[:-1], np.diff(bounds)
    width, k = int(size.max()), x.shape[1]
    chunk = max(1, WINDOW_BLOCK_BYTES // (8 * (4 * width * k + 3 * width * width)))
    saved = 0.0
    for s in range(0, len(starts), chunk):
        st, sz = starts[s : s + chunk], size[s : s + chunk]
        idx = st[:, None] + np.minimum(np.arange(width), sz[:, None] - 1)  # (B, w) pair indices, padded
        C = _window_costs(x, y, rows, cols, idx, sz, p)  # (B, w, w)
        lower = torch.maximum(C.amin(2).sum(1), C.amin(1).sum(1))  # no assignment of a window costs less
        loose = C.diagonal(dim1=1, dim2=2).sum(1) > lower * (1 + 1e-12)
        Cn = C.numpy()
        for b in torch.nonzero(loose).flatten().tolist():
            ii = idx[b, : sz[b]]
            new = cols[ii][assignment(Cn[b, : sz[b], : sz[b]])]
            xb = x[rows[ii]]  # (s, k)
            gain = float(pair_costs(xb, y[cols[ii]], p).sum() - pair_costs(xb, y[new], p).sum())
            if gain > 0:  # kept only where the pair-by-pair cost is lower (module docstring)
                cols[ii], saved = new, saved + gain
    return saved


def _bounds(N: int, width: int, offset: int, keys) -> np.ndarray:
    """Window boundaries 0 = b_0 < ... < b_W = N, windows of at most ``width`` pairs.

    Without keys, fixed windows starting at ``offset``. With keys (u, v), one cut in each block of width/2
    positions (blocks starting at ``offset``), where the smaller of the two gaps u[r] - u[r-1], v[r] - v[r-1]
    is widest: pairs whose projections nearly tie then share a window.
    """
    if keys is None or width >= N:
        return np.array(sorted({0, *range(offset, N, width), N}))
    h = max(1, width // 2)
    u, v = keys
    gap = np.minimum(np.diff(u), np.diff(v))  # gap[r - 1]: the step between positions r - 1 and r
    B = (N - 1 - offset) // h
    cuts = offset + 1 + np.argmax(gap[offset : offset + B * h].reshape(B, h), axis=1) + h * np.arange(B)
    return np.unique(np.concatenate([[0], cuts, [N]]))


def window_resolve(
    x: np.ndarray, y: np.ndarray, c: Coupling, p: float, *, width: int = 64, rounds: int = 6, floor: float = 0.0
) -> Coupling:
    r"""Exact re-solves of ``c`` on windows of at most ``width`` consecutive pairs, shifted between passes.

    A monotone permutation with ``keys`` is cut where its sorted projections have their widest gaps (so
    near-ties share a window); other couplings in fixed windows at offsets 0 and width/2 in turn. Never
    raises the cost (module docstring). Passes continue while each closes most (4/5) of the gap between
    the cost and ``floor`` (a lower bound of W_p^p, 0 if none is known) — the errors are then exchanges
    local to the windows, which the next pass finishes — and stop after ``rounds`` passes or two passes in
    a row that changed nothing. A pass that closes less meets a coupling far from optimal in ways that
    windows along one projection do not reach. x (n, k), y (m, k) float64. A permutation
    costs one batched GEMM of 2 N width k flops per pass and an assignment per window that can improve;
    other couplings one exact solve per window.
    """
    name = c.name if c.name.endswith("+windows") else c.name + "+windows"
    perm = c.is_permutation(len(x), len(y)) and bool(np.all(c.weights == c.weights[0]))
    rows, cols, wts = c.rows, c.cols.copy(), c.weights
    cost = float(coupling_cost_pp(torch.from_numpy(x), torch.from_numpy(y), c, p))
    quiet = 0  # consecutive passes that changed nothing
    for r in range(rounds):
        offset = (width // (4 if perm and c.keys is not None else 2)) * (r % 2)
        bounds = _bounds(len(rows), width, offset, c.keys if perm else None)
        if perm:
            gain = _permutation_windows(x, y, rows, cols, p, bounds) * wts[0]
        else:
            groups = [slice(s, e) for s, e in itertools.pairwise(bounds)]
            new, gain = _resolve_all(x, y, Coupling(rows, cols, wts), p, groups, name)
            rows, cols, wts = new.rows, new.cols, new.weights
        quiet = 0 if gain > 0 else quiet + 1
        if quiet == 2 or 0 < gain < 0.8 * (cost - floor):
            break
        cost -= gain
    return Coupling(rows, cols, wts, name, c.keys if perm else None)


def _groups(z: np.ndarray, w: np.ndarray, size: int, rng: np.random.Generator, branch: int = 24) -> list[np.ndarray]:
    """Index sets of compact groups of at most 1.5 ``size`` rows of z, by recursive k-means (O(s k log s))."""
    out, stack = [], [np.arange(len(z))]
    while stack:
        idx = stack.pop()
        if 2 * len(idx) <= 3 * size:  # k-means is not balanced: accept up to 1.5 size, no re-split
            out.append(idx)
            continue
        lab, _, _ = kmeans_clusters(z[idx], w[idx], min(branch, -(-len(idx) // size)), rng)
        if lab.max() == 0:  # all points equal: split arbitrarily
            stack += np.array_split(idx, -(-len(idx) // size))
            continue
        stack += [idx[lab == c] for c in range(lab.max() + 1)]
    return out


def local_resolve(
    x: np.ndarray, y: np.ndarray, c: Coupling, p: float, *, group: int = 128, rounds: int = 2, seed: int = 0
) -> Coupling:
    """Exact re-solves of ``c`` on compact groups of pairs; never raises the cost (module docstring).

    Groups: recursive k-means of the midpoints (x_i + y_j) / 2 into groups of at most 1.5 ``group``
    pairs, redrawn every round. x (n, k), y (m, k) float64. O(nnz k log nnz) per round.
    """
    rng = np.random.default_rng(seed)
    name = c.name if c.name.endswith("+local") else c.name + "+local"
    for _ in range(rounds):
        if len(c.rows) <= group:
            break
        c = resolve_groups(x, y, c, p, _groups(0.5 * (x[c.rows] + y[c.cols]), c.weights, group, rng), name)
    return c
