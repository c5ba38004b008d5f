r"""Explicit couplings between point clouds: every one gives an upper bound on W_p.

A coupling pi in Pi(a, b) is stored sparse, as triples (i_r, j_r, w_r) with
sum_{r: i_r = i} w_r = a_i and sum_{r: j_r = j} w_r = b_j. Its cost bounds W_p from above,

.. math::

    W_p^p(\mu, \nu) \le \langle \pi, C \rangle = \sum_r w_r |x_{i_r} - y_{j_r}|^p ,

whatever the coupling. The couplings built here:

* :func:`exact_coupling` — an optimal coupling: for a few hundred uniform points on each side a
  permutation (Birkhoff; :func:`assignment`, shortest augmenting paths [4]), otherwise the network
  simplex (:func:`emd_plan`, POT [5]).
* :func:`paired_coupling` — the identity i -> i, for clouds the caller knows to be paired
  (tracked particles, y = T(x)); optimal when the pairs are cyclically monotone [1].
* :func:`sliced_couplings` — the monotone coupling of the projections on a direction theta,
  lifted to R^k (POT's ``ot.sliced.sliced_plans``; the best of several is min-SWGG [2]).
* :func:`multiscale_coupling` — cluster both clouds, solve OT between the clusters
  exactly, split every cluster between its matched clusters exactly, recurse, and solve
  the leaves exactly (coarse-to-fine, as in multiscale OT [3]).

:mod:`.refine` lowers the cost of any of them by exact re-solves on groups of pairs.

References
----------
[1] Villani, C. (2009). Optimal transport, old and new, Thm 5.10 (cyclical monotonicity).
[2] Mahey, G., Chapel, L., Gasso, G., Bonet, C., Courty, N. (2023). Fast optimal transport
    through sliced generalized Wasserstein geodesics. NeurIPS.
[3] Mérigot, Q. (2011). A multiscale approach to optimal transport. Comput. Graph. Forum
    30(5); Schmitzer, B. (2016). A sparse multiscale algorithm for dense optimal transport.
    J. Math. Imaging Vis. 56.
[4] Crouse, D. F. (2016). On implementing 2D rectangular assignment algorithms. IEEE TAES
    52(4) (the algorithm of ``scipy.optimize.linear_sum_assignment``).
[5] Flamary, R. et al. (2021). POT: Python optimal transport. JMLR 22(78).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = [
    "ASSIGNMENT_MAX",
    "Coupling",
    "assignment",
    "coupling_cost_pp",
    "cost_matrix",
    "emd_plan",
    "exact_coupling",
    "kmeans_clusters",
    "pair_costs",
    "paired_coupling",
    "sliced_couplings",
    "multiscale_coupling",
]

#: pairs whose displacements are evaluated at once by :func:`coupling_cost_pp` (bounds its memory)
COST_BLOCK = 2**16
#: :func:`exact_coupling` solves n = m uniform points up to this size by assignment: as fast as the network
#: simplex there (both take milliseconds), and it does not import POT; beyond, the simplex is the faster
ASSIGNMENT_MAX = 256


@dataclass(frozen=True)
class Coupling:
    """Sparse coupling: mass ``weights[r]`` moves from x[rows[r]] to y[cols[r]] (int64, int64, float64 arrays).

    ``keys`` (monotone permutations only): the sorted projections (u, v), (N,) each, of the two clouds
    at each stored position, so that u[r] is the projection of x[rows[r]]; near-ties lie where
    consecutive keys are close (used by :func:`.refine.window_resolve`).
    """

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    name: str = ""
    keys: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def is_permutation(self, n: int, m: int) -> bool:
        """True if the coupling is a bijection between n = m uniformly weighted points."""
        return n == m and len(self.rows) == n and np.allclose(self.weights, 1.0 / n, rtol=1e-9, atol=0)


def cost_matrix(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """Dense cost |x_i - y_j|^p, (n, m) float64, in the matmul form |x_i|^2 + |y_j|^2 - 2 x_i.y_j clipped at 0
    (as POT's ``ot.dist``)."""
    d2 = x @ y.T  # (n, m)
    d2 *= -2.0
    d2 += (x * x).sum(1)[:, None]
    d2 += (y * y).sum(1)[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2 if p == 2 else d2 ** (p / 2)


def pair_costs(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """|x_r - y_r|^p for matched rows x (s, k), y (s, k), from the differences (no cancellation), (s,)."""
    D = x - y
    d2 = np.einsum("ij,ij->i", D, D)
    return d2 if p == 2 else d2 ** (p / 2)


def assignment(cost) -> np.ndarray:
    r"""Optimal assignment for a square cost matrix: sigma (n,) minimising sum_i cost[i, sigma[i]].

    The discrete OT problem between two uniform measures of n atoms with that cost (its optimal plans
    include a permutation, Birkhoff); solved exactly by SciPy's ``linear_sum_assignment`` (shortest
    augmenting paths [4]). ``cost``: (n, n) array or tensor (any cost, e.g. the signed unit distances of
    :func:`wgflow.residual.paths.aligned_unit_distance`). Returns an int64 NumPy permutation.
    """
    M = cost.detach().cpu().numpy() if isinstance(cost, torch.Tensor) else np.asarray(cost)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"assignment needs a square (n, n) cost matrix, got shape {M.shape}")
    rows, cols = linear_sum_assignment(M)
    sigma = np.empty(len(rows), dtype=np.int64)
    sigma[rows] = cols
    return sigma


def emd_plan(a: np.ndarray, b: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Optimal plan of the exact problem for the cost M (n, m), by POT's network simplex."""
    import ot  # POT imports scikit-learn (seconds): loaded by the first network-simplex solve, not by `import`

    # the simplex needs ~n m pivots on hard instances; POT's default cap (1e5) is too low beyond n ~ 300
    plan, log = ot.emd(a, b, M, numItermax=max(100_000, 50 * M.size), log=True)
    if log.get("result_code", 1) != 1:
        raise RuntimeError(f"network simplex did not converge: {log.get('warning')}")
    return plan


def exact_coupling(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, p: float, *, uniform: bool) -> Coupling:
    """An optimal coupling of x (n, k), y (m, k) with weights a (n,), b (m,) summing to 1 (float64 arrays).

    With ``uniform`` weights and n = m <= ASSIGNMENT_MAX a permutation solves the problem (the extreme
    points of the Birkhoff polytope), found by :func:`assignment`; otherwise POT's network simplex
    (:func:`emd_plan`).
    """
    n, m = len(x), len(y)
    if uniform and n == m <= ASSIGNMENT_MAX:
        sigma = assignment(cost_matrix(x, y, p))
        return Coupling(np.arange(n, dtype=np.int64), sigma, np.full(n, 1.0 / n), "exact")
    plan = emd_plan(a, b, cost_matrix(x, y, p))
    i, j = np.nonzero(plan)
    return Coupling(i.astype(np.int64), j.astype(np.int64), plan[i, j], "exact")


def coupling_cost_pp(x: torch.Tensor, y: torch.Tensor, c: Coupling, p: float) -> torch.Tensor:
    r"""sum_r w_r |x_{i_r} - y_{j_r}|^p, a float64 0-dim tensor differentiable in x and y (coupling fixed).

    Evaluated in float64 whatever the dtype of x and y, over blocks of pairs (memory O(block k)). Where a point sits on its partner
    (|x - y| = 0) the subgradient 0 is used for p < 2.
    """
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for s in range(0, len(c.rows), COST_BLOCK):
        ii = torch.from_numpy(c.rows[s : s + COST_BLOCK]).to(x.device)
        jj = torch.from_numpy(c.cols[s : s + COST_BLOCK]).to(x.device)
        w = torch.from_numpy(c.weights[s : s + COST_BLOCK]).to(device=x.device)
        diff = x[ii].double() - y[jj].double()  # (block, k)
        d2 = (diff * diff).sum(1)
        if p == 2:
            total = total + (w * d2).sum()
        else:
            pos = d2 > 0
            total = total + (w * torch.where(pos, torch.where(pos, d2, 1.0).pow(p / 2), 0.0)).sum()
    return total


def paired_coupling(n: int, a: np.ndarray) -> Coupling:
    """The identity coupling x_i -> y_i with masses a_i (valid when a = b)."""
    idx = np.arange(n, dtype=np.int64)
    return Coupling(idx, idx.copy(), np.asarray(a, dtype=np.float64), "paired")


def sliced_couplings(
    x: np.ndarray, y: np.ndarray, a: np.ndarray | None, b: np.ndarray | None, theta: np.ndarray
) -> list[Coupling]:
    """Monotone couplings of the projections on each column of theta (k, L), lifted to the clouds.

    For n = m uniform points each is a permutation (sorting both projections); otherwise the
    north-west-corner plan of the two sorted 1-D measures (n + m - 1 pairs at most).
    """
    n = x.shape[0]
    if a is None and b is None and n == y.shape[0]:
        # equal uniform masses: the monotone coupling is the permutation that matches the sorted projections
        px, py = x @ theta, y @ theta  # (n, L)
        sx, sy = np.argsort(px, axis=0), np.argsort(py, axis=0)  # (n, L)
        u, v = np.take_along_axis(px, sx, 0), np.take_along_axis(py, sy, 0)  # (n, L) sorted projections
        w = np.full(n, 1.0 / n)
        return [
            Coupling(sx[:, l].astype(np.int64), sy[:, l].astype(np.int64), w, "sliced", (u[:, l], v[:, l]))
            for l in range(theta.shape[1])
        ]
    import ot  # POT imports scikit-learn (seconds): loaded by the first weighted sliced coupling, not by `import`

    plans, _ = ot.sliced.sliced_plans(x, y, a, b, projections=theta)
    return [
        Coupling(
            np.asarray(pl.rows, dtype=np.int64),
            np.asarray(pl.cols, dtype=np.int64),
            np.asarray(pl.data, dtype=np.float64),
            "sliced",
        )
        for pl in plans
    ]


def kmeans_clusters(z: np.ndarray, w: np.ndarray, K: int, rng: np.random.Generator):
    """Weighted k-means of z (s, k) by scikit-learn's Lloyd: labels (s,), masses (K',), centroids (K', k).

    Few iterations from a random start: the clusters only have to be compact, not optimal. Empty
    clusters are dropped.
    """
    from sklearn.cluster import KMeans  # seconds to import: loaded by the first multiscale coupling, not by `import`

    K = int(min(K, len(z)))
    if K <= 1:
        return np.zeros(len(z), dtype=np.int64), np.array([w.sum()]), (w @ z)[None] / w.sum()
    km = KMeans(K, init="random", n_init=1, max_iter=6, tol=0.0, random_state=int(rng.integers(2**31)), copy_x=False)
    with warnings.catch_warnings():  # duplicate points may leave fewer distinct clusters than K
        warnings.simplefilter("ignore")
        lab = km.fit(z, sample_weight=w).labels_
    used, lab = np.unique(lab, return_inverse=True)
    return lab, np.bincount(lab, weights=w, minlength=len(used)), km.cluster_centers_[used]


def _split(z: np.ndarray, w: np.ndarray, targets: np.ndarray, caps: np.ndarray, p: float):
    """Exact split of the weighted points z (s, k) among target centres (t, k) with capacities caps (t,).

    The optimal plan is a vertex: at most t - 1 points are shared, the others go whole.
    """
    if len(caps) == 1:
        return [(np.arange(len(w)), w)]
    P = emd_plan(w / w.sum(), caps / caps.sum(), cost_matrix(z, targets, p)) * w.sum()  # (s, t)
    return [(np.flatnonzero(P[:, t] > 0), P[P[:, t] > 0, t]) for t in range(len(caps))]


def multiscale_coupling(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    p: float,
    *,
    leaf: int = 192,
    branch: int = 24,
    seed: int = 0,
) -> Coupling:
    r"""Coarse-to-fine coupling: k-means both clouds, OT between clusters, exact OT in the leaves.

    .. math::

        \Pi = \arg\min \sum_{IJ} \Pi_{IJ} |c_I - d_J|^p, \qquad
        \pi = \sum_{IJ} \pi^{(IJ)}, \quad \pi^{(IJ)} \in \Pi(a^{(I \to J)}, b^{(J \leftarrow I)}),

    where cluster I of x sends mass Pi_IJ to cluster J of y, its points are split among its
    targets J by an exact (small) transport to the centres d_J, and each matched part
    (I -> J, J <- I) is solved recursively until at most ``leaf`` points per side remain,
    which are solved exactly. Every step keeps the marginals, so the result is a coupling.

    Parameters
    ----------
    x (n, k), y (m, k) float64 arrays; a (n,), b (m,) weights summing to 1; p the exponent.
    leaf : largest sub-problem solved exactly; branch : clusters per side and level.
    """
    rng = np.random.default_rng(seed)
    rows, cols, wts = [], [], []
    stack = [(np.arange(len(x)), np.asarray(a, float), np.arange(len(y)), np.asarray(b, float))]
    while stack:
        ix, wa, iy, wb = stack.pop()
        if max(len(ix), len(iy)) <= leaf:
            P = emd_plan(wa / wa.sum(), wb / wb.sum(), cost_matrix(x[ix], y[iy], p)) * wa.sum()
            r, c = np.nonzero(P)
            rows.append(ix[r])
            cols.append(iy[c])
            wts.append(P[r, c])
            continue
        K = int(min(branch, -(-max(len(ix), len(iy)) // leaf)))
        lx, mx, cx = kmeans_clusters(x[ix], wa, min(K, len(ix)), rng)
        ly, my, cy = kmeans_clusters(y[iy], wb, min(K, len(iy)), rng)
        Pi = emd_plan(mx / mx.sum(), my / my.sum(), cost_matrix(cx, cy, p)) * wa.sum()  # (Kx, Ky)
        parts_x: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # (I, J) -> (indices, weights)
        for I in range(len(mx)):
            Js = np.flatnonzero(Pi[I] > 0)  # the clusters J that cluster I sends mass to
            sel = np.flatnonzero(lx == I)
            for j, (r, w) in zip(Js, _split(x[ix[sel]], wa[sel], cy[Js], Pi[I, Js], p)):
                parts_x[I, int(j)] = (ix[sel[r]], w)
        for J in range(len(my)):
            Is = np.flatnonzero(Pi[:, J] > 0)
            sel = np.flatnonzero(ly == J)
            for i, (r, w) in zip(Is, _split(y[iy[sel]], wb[sel], cx[Is], Pi[Is, J], p)):
                px, pw = parts_x[int(i), J]
                if pw.sum() > 0 and w.sum() > 0:  # an exact split may leave a tiny Pi_IJ no points on one side
                    stack.append((px, pw, iy[sel[r]], w * (pw.sum() / w.sum())))
    return Coupling(np.concatenate(rows), np.concatenate(cols), np.concatenate(wts), "multiscale")
