r"""Multiscale Sinkhorn for low dimension (k <= 3): coarse clusters, then a truncated kernel.

The scheme of GeomLoss's ``sinkhorn_multiscale`` [1, §3.3.3], [2]:

1. both clouds are clustered on a grid of cell side ``cluster_scale`` (weighted centroids
   c_I, masses A_I, radii r_I);
2. eps-scaling runs on the coarse clouds (:func:`.entropic.sinkhorn_loop`) down to
   eps_c = max(cluster_scale, blur)^p;
3. the coarse potentials are extrapolated to the points by one soft-min against the coarse
   cloud, f_i = -eps_c log sum_J B_J exp((G_J - |x_i - c_J|^p) / eps_c);
4. kernel truncation: a pair of clusters (I, J) is kept when the coarse plan could still carry
   mass there, F_I + G_J - C^-_IJ >= -truncate * eps_c with C^-_IJ = (|c_I - c_J| - r_I - r_J)_+^p
   the smallest cost between their points (so entries of relative weight below
   exp(-truncate) are dropped);
5. eps-scaling continues on the points from eps_c down to blur^p, each soft-min restricted
   to the kept pairs (one dense block per cluster of rows: its points x all points of the
   clusters kept with it).

In low dimension the kept pairs are a small fraction of n m, so 10^5 points fit in seconds;
the truncation is an approximation (the value is within ~exp(-truncate) relative of the
dense one, tested), so it is used only where the dense path is too slow.

References
----------
[1] Feydy, J. (2020). Geometric data analysis, beyond convolutions. PhD thesis, ENS
    Paris-Saclay, §3.3.3 (multiscale Sinkhorn, kernel truncation).
[2] Schmitzer, B. (2019). Stabilized sparse scaling algorithms for entropy regularized
    transport problems. SIAM J. Sci. Comput. 41(3), A1443-A1481.
"""

from __future__ import annotations

import math

import torch

from .entropic import cloud_diameter, epsilon_schedule, iterate, sinkhorn_loop, softmin, softmin_rows

__all__ = ["grid_clusters", "multiscale_potentials", "MULTISCALE_MAX_DIM"]

#: the multiscale path is for k <= MULTISCALE_MAX_DIM: in higher dimension the kept pairs are most pairs
MULTISCALE_MAX_DIM = 3


def grid_clusters(x: torch.Tensor, w: torch.Tensor, scale: float):
    """Grid clusters of the rows of x (n, k) with weights w (n,): (order (n,), ranges (N, 2),
    centroids (N, k), masses (N,), radii (N,)); x[order] lists the clusters one after another."""
    cells = torch.floor((x - x.min(0).values) / scale).long()  # (n, k)
    _, labels = torch.unique(cells, dim=0, return_inverse=True)
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels)  # (N,)
    ranges = torch.stack([counts.cumsum(0) - counts, counts.cumsum(0)], 1)
    mass = torch.zeros(len(counts), dtype=x.dtype).index_add_(0, labels, w)
    cen = torch.zeros(len(counts), x.shape[1], dtype=x.dtype).index_add_(0, labels, w[:, None] * x)
    cen /= mass.clamp(min=torch.finfo(x.dtype).tiny)[:, None]
    dist = (x - cen[labels]).norm(dim=1)
    radii = torch.zeros(len(counts), dtype=x.dtype).scatter_reduce_(0, labels, dist, "amax")
    return order, ranges, cen, mass, radii


def _blocks(F, G, cx, cy, rx, ry, ranges_x, ranges_y, p, eps, truncate):
    """Per row cluster I: (start, end, columns) of the kept pairs, F_I + G_J - C^-_IJ >= -truncate eps."""
    gap = (torch.cdist(cx, cy) - 0.5 * (rx[:, None] + ry[None, :])).clamp(min=0).pow(p)  # (Nx, Ny) C^-
    keep = F[:, None] + G[None, :] - gap >= -truncate * eps
    keep[torch.arange(len(cx)), (gap - G[None, :]).argmin(1)] = True  # never an empty row
    out = []
    for i, (s, e) in enumerate(ranges_x.tolist()):
        js = keep[i].nonzero()[:, 0]
        cols = torch.cat([torch.arange(int(ranges_y[j, 0]), int(ranges_y[j, 1])) for j in js])
        out.append((s, e, cols))
    return out


def multiscale_potentials(x, y, a_log, b_log, p, blur, scaling, debias, cluster_scale=None, truncate=8.0):
    """Potentials (f_ba, g_ab, f_aa, g_bb) on x[ox], y[oy] and the truncated soft-min, multiscale.

    Returns (potentials, eps list, sm, ox, oy) where sm(eps, pair, h, grad=False) is the truncated
    soft-min on the sorted clouds; with grad it is differentiable in the query points.
    """
    xd, yd = x.detach(), y.detach()
    k = x.shape[1]
    diameter = max(cloud_diameter(xd, yd), blur)
    scale = cluster_scale or diameter / (math.sqrt(k) * 2000 ** (1 / k))  # GeomLoss's default: ~2000 cells
    ox, rgx, cx, ax, rx = grid_clusters(xd, a_log.exp(), scale)
    oy, rgy, cy, by, ry = grid_clusters(yd, b_log.exp(), scale)
    coarse_blur = max(scale, blur)
    Fc = sinkhorn_loop(cx, cy, ax.log(), by.log(), p, coarse_blur, scaling, debias, 2**24)[:4]
    eps_c = coarse_blur**p
    xs, ys, A, B = xd[ox], yd[oy], a_log[ox], b_log[oy]
    coarse = {"x": (cx, ax.log(), rx, rgx), "y": (cy, by.log(), ry, rgy)}
    pots, kern = [], {}
    for pair, F, G in [("xy", Fc[0], Fc[1]), ("yx", Fc[1], Fc[0]), ("xx", Fc[2], Fc[2]), ("yy", Fc[3], Fc[3])]:
        if F is None:
            continue
        (c1, _, r1, g1), (c2, w2, r2, g2) = coarse[pair[0]], coarse[pair[1]]
        q = xs if pair[0] == "x" else ys
        pots.append(softmin(eps_c, q, c2, w2 + G / eps_c, p))  # extrapolation to the points
        kern[pair] = _blocks(F, G, c1, c2, r1, r2, g1, g2, p, eps_c, truncate)
    clouds = {"x": xs, "y": ys}

    def sm(eps, pair, h, grad=False, queries=None):
        q = (queries or clouds)[pair[0]]
        src = clouds[pair[1]]
        parts = []
        for s, e, cols in kern[pair]:
            if grad:
                parts.append(softmin(eps, q[s:e], src[cols], h[cols], p))
            else:
                parts.append(softmin_rows(q[s:e], src[cols], h[cols], eps, p, e - s))
        return torch.cat(parts)

    init = (*pots, None, None) if len(pots) == 2 else tuple(pots)
    schedule = epsilon_schedule(p, coarse_blur, blur, scaling)
    out = iterate(sm, A, B, schedule, debias, init)
    return out[:4], out[4], sm, ox, oy
