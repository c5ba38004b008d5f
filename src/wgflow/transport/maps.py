r"""Optimal transport maps between point clouds.

Between two clouds of n equally weighted points the optimal plan can be taken to be a
permutation (Birkhoff-von Neumann), found by the linear assignment problem

.. math::

    \sigma^\star = \arg\min_{\sigma \in S_n} \sum_i |x_i - y_{\sigma(i)}|^p .

For general weights the plan pi splits mass; its barycentric projection

.. math::

    T(x_i) = \frac{1}{a_i} \sum_j \pi_{ij} \, y_j

is the best map in L^2(mu) given the plan, and equals the Brenier map when the plan
is induced by one (e.g. equal sizes, or the entropic plan as blur -> 0 for
absolutely continuous mu [3]).

References
----------
[1] Burkard, R., Dell'Amico, M., Martello, S. (2012). Assignment problems. SIAM.
[2] Crouse, D. F. (2016). On implementing 2D rectangular assignment algorithms. IEEE TAES
    52(4) (the algorithm of ``scipy.optimize.linear_sum_assignment``).
[3] Pooladian, A.-A., Niles-Weed, J. (2021). Entropic estimation of optimal transport maps.
    arXiv:2109.12004.
"""

from __future__ import annotations

import numpy as np
import torch

from ._checks import check_p, is_torch, pair
from .couplings import assignment, cost_matrix
from .distances import exact_plan
from .entropic import SINKHORN_BLOCK_BYTES
from .sinkhorn import sinkhorn_barycentric_map

__all__ = ["assignment", "ot_assignment", "barycentric_map"]


def ot_assignment(x, y, *, p: float = 2):
    r"""Optimal assignment sigma between two clouds of equal size: x_i is sent to y[sigma[i]].

    .. math::

        \sigma = \arg\min_{\sigma \in S_n} \frac1n \sum_i |x_i - y_{\sigma(i)}|^p

    Parameters
    ----------
    x, y : (n, k) arrays or tensors (same n).
    p : exponent of the cost.

    Returns
    -------
    sigma : (n,) integer permutation (int64 NumPy array, or a long tensor for torch input);
        W_p^p = mean_i |x_i - y[sigma[i]]|^p.
    """
    p = check_p(p)
    xt, yt, _, _ = pair(x, y)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"an assignment needs clouds of equal size, got x: {xt.shape[0]} and y: {yt.shape[0]} "
            "points (use barycentric_map for general clouds)"
        )
    M = cost_matrix(xt.detach().cpu().numpy().astype(np.float64), yt.detach().cpu().numpy().astype(np.float64), p)
    sigma = assignment(M)
    return torch.from_numpy(sigma) if is_torch(x, y) else sigma


def barycentric_map(
    x,
    y,
    a=None,
    b=None,
    *,
    p: float = 2,
    method: str = "exact",
    blur: float = 0.05,
    scaling: float = 0.5,
    tol: float | None = None,
    max_iter: int = 1000,
    block_bytes: int = SINKHORN_BLOCK_BYTES,
):
    r"""Barycentric projection of an optimal plan: T(x_i) = sum_j pi_ij y_j / a_i, shape (n, k).

    .. math::

        \pi \in \arg\min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij} |x_i - y_j|^p
        \ (+\ \varepsilon KL(\pi | a \otimes b) \text{ for "sinkhorn"}),
        \qquad T(x_i) = \frac{1}{a_i} \sum_j \pi_{ij} y_j

    Parameters
    ----------
    x : (n, k), y : (m, k) clouds; a (n,), b (m,) weights (None = uniform); p : cost exponent.
    method : "exact" (POT network simplex, O(n m) memory) or "sinkhorn" (entropic plan with
        eps = blur^p, streamed over row blocks: memory O(block * m), usable for large clouds;
        ``scaling``, ``tol``, ``max_iter`` as in :func:`wasserstein`).

    Returns
    -------
    T : (n, k) image points, NumPy or torch like the input. Points with a_i = 0 are mapped
        to themselves. The mean is preserved: sum_i a_i T(x_i) = sum_j b_j y_j.
    """
    p = check_p(p)
    xt, yt, at, bt = pair(x, y, a, b)
    if method == "exact":
        plan = exact_plan(xt, yt, at, bt, p, uniform=a is None and b is None)  # (n, m) float64
        an = plan.sum(1)
        yn = yt.detach().cpu().numpy().astype(np.float64)
        safe = np.where(an > 0, an, 1.0)[:, None]
        T = np.where(an[:, None] > 0, (plan @ yn) / safe, xt.detach().cpu().numpy())
        T = torch.from_numpy(T).to(xt.dtype)
    elif method == "sinkhorn":
        T = sinkhorn_barycentric_map(
            xt,
            yt,
            at,
            bt,
            p=p,
            blur=float(blur),
            scaling=float(scaling),
            tol=tol,
            max_iter=int(max_iter),
            block_bytes=int(block_bytes),
        )
        T = torch.where(at[:, None] > 0, T, xt.detach())
    else:
        raise ValueError(f"method must be 'exact' or 'sinkhorn', got {method!r}")
    return T if is_torch(x, y, a, b) else T.numpy()
