r"""Debiased entropic optimal transport in the log domain, with bounded memory.

For the cost C(x, y) = |x - y|^p and eps = blur^p (GeomLoss's geometric units),

.. math::

    OT_\varepsilon(\alpha, \beta) = \min_{\pi \in \Pi(a, b)} \langle \pi, C \rangle
        + \varepsilon \, KL(\pi \,|\, a \otimes b),
    \qquad
    S_\varepsilon = OT_\varepsilon(\alpha, \beta) - \tfrac12 OT_\varepsilon(\alpha, \alpha)
        - \tfrac12 OT_\varepsilon(\beta, \beta),

the Sinkhorn divergence [1, 2]: S_eps >= 0, S_eps(alpha, alpha) = 0 and
S_eps -> W_p^p as blur -> 0. Dual potentials solve the fixed point of the soft-min

.. math::

    f_i = -\varepsilon \log \sum_j b_j \exp\big((g_j - C(x_i, y_j)) / \varepsilon\big),

iterated with symmetric (averaged) updates and eps-scaling (annealing eps from the
diameter^p down to blur^p by the factor ``scaling`` per step) as in GeomLoss [2, Alg. 3.5].

Numerical choices. The soft-min kernels, their blocks and eps-scaling live in :mod:`.entropic`
(log domain, O(block * m) memory, a GEMM per block for p = 2; float32 input runs in float32, as
GeomLoss and POT do). The iterations run without autograd; only the last extrapolation is
differentiated, with the potentials held fixed (envelope theorem, [2, §3.3]); the gradient with
respect to x_i is sum_j pi_ij grad_x C(x_i, y_j) minus its self term. In dimension <= 3
:mod:`.sinkhorn_multiscale` (clusters and a truncated kernel) replaces the dense soft-min beyond
``MULTISCALE_MIN_PAIRS`` pairs.

Why not KeOps/GeomLoss. ``geomloss`` is a small pure-Python package, but its large-scale backend is
KeOps, which compiles a C++ module per formula at its first use (minutes on a small CPU machine), and
its other backends hold the (n, m) cost matrix whole, O(nm) memory. The blocked soft-min of
:mod:`.entropic` needs neither: it bounds memory by its block size and spends its time in one GEMM
per block (benchmarks/bench_transport.py compares its rate with a plain GEMM's).

References
----------
[1] Genevay, A., Peyré, G., Cuturi, M. (2018). Learning generative models with Sinkhorn
    divergences. AISTATS.
[2] Feydy, J. (2020). Geometric data analysis, beyond convolutions. PhD thesis, ENS
    Paris-Saclay, Ch. 3 (and the GeomLoss library).
"""

from __future__ import annotations

import torch

from .entropic import (
    SINKHORN_BLOCK_BYTES,
    block_rows,
    exp_rows_,
    exponent_rows,
    sinkhorn_loop,
    softmin,
)
from .sinkhorn_multiscale import multiscale_potentials

__all__ = ["sinkhorn_divergence_pp", "sinkhorn_barycentric_map", "MULTISCALE_MIN_PAIRS"]

#: ``sinkhorn_divergence_pp`` takes the multiscale path in dimension <= 3 beyond this many pairs (n m)
MULTISCALE_MIN_PAIRS = 10_000_000


def sinkhorn_barycentric_map(
    x, y, a, b, *, p=2.0, blur=0.05, scaling=0.5, tol=None, max_iter=1000, block_bytes=SINKHORN_BLOCK_BYTES
):
    r"""T(x_i) = sum_j pi_ij y_j / a_i for the entropic plan pi, (n, k), streamed over row blocks.

    The row-conditional of the plan is a soft-max: pi_ij / a_i = softmax_j(log b_j + (g_j - C_ij) / eps).
    """
    a_log, b_log = a.detach().log(), b.detach().log()
    _, g_ab, _, _, schedule = sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, False, block_bytes, tol, max_iter)
    eps = schedule[-1]
    with torch.no_grad():
        h = b_log + g_ab / eps  # (m,)
        y2 = (y * y).sum(1)
        r = block_rows(x.shape[0], y.shape[0], x.element_size(), block_bytes)
        out = torch.empty_like(x)
        for s in range(0, x.shape[0], r):
            S = exponent_rows(x[s : s + r], y, y2, h, eps, p)
            exp_rows_(S)  # S <- exp(S - row max), clamped
            out[s : s + r] = (S @ y) / S.sum(1, keepdim=True)  # softmax_j(S_ij) y_j, (r, k)
    return out


def sinkhorn_divergence_pp(
    x: torch.Tensor,
    y: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    p: float = 2.0,
    blur: float = 0.05,
    scaling: float = 0.5,
    debias: bool = True,
    tol: float | None = None,
    max_iter: int = 1000,
    block_bytes: int = SINKHORN_BLOCK_BYTES,
    multiscale: bool | None = None,
) -> tuple[torch.Tensor, int]:
    r"""S_eps (``debias=True``) or OT_eps between weighted clouds, eps = blur^p; returns (value, iterations).

    Parameters
    ----------
    x : (n, k), y : (m, k) support points (the value is differentiable in both).
    a : (n,), b : (m,) weights summing to 1 (treated as constants).
    p : cost exponent; blur : target length scale, eps = blur^p.
    scaling : ratio of successive blur values in eps-scaling, in (0, 1); closer to 1 is
        slower and more accurate at the final eps.
    tol : if given, iterate on at the final eps until the potentials move by less than ``tol``
        (at most ``max_iter`` more iterations); None stops after the schedule, as GeomLoss does.
    block_bytes : memory of one block of the cost matrix.
    multiscale : clusters and a truncated kernel (:mod:`.sinkhorn_multiscale`, k <= 3 only, no
        ``tol``); None = when k <= 3 and n m > MULTISCALE_MIN_PAIRS.
    """
    a_log, b_log = a.detach().log(), b.detach().log()  # (n,), (m,)
    k = x.shape[1]
    if multiscale is None:
        multiscale = k <= 3 and x.shape[0] * y.shape[0] > MULTISCALE_MIN_PAIRS and tol is None
    if multiscale:
        if k > 3:
            raise ValueError(f"the multiscale Sinkhorn is for dimension k <= 3, got k = {k}")
        pots, schedule, msm, ox, oy = multiscale_potentials(x, y, a_log, b_log, p, blur, scaling, debias)
        q = {"x": x[ox], "y": y[oy]}  # the sorted clouds, still attached to x and y
        value = _extrapolate(lambda e, pair, h: msm(e, pair, h, True, q), a[ox], b[oy], pots, schedule[-1], debias)
        return value, len(schedule) + 1
    *pots, schedule = sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, debias, block_bytes, tol, max_iter)
    q = {"x": x, "y": y}
    src = {"x": x.detach(), "y": y.detach()}

    def sm(eps, pair, h):
        return softmin(eps, q[pair[0]], src[pair[1]], h, p, block_bytes)

    return _extrapolate(sm, a, b, pots, schedule[-1], debias), len(schedule) + 1


def _extrapolate(sm, a, b, pots, eps, debias) -> torch.Tensor:
    """<a, f> + <b, g> (minus the self terms) after one last soft-min with the potentials held fixed.

    This step is differentiated (envelope theorem). Each soft-min is differentiated in its query
    points only (sources detached, as in GeomLoss): <a, f(x)> and <b, g(y)> each carry the full
    gradient sum_j pi_ij grad C_ij, so differentiating both through x would count it twice.
    """
    a, b = a.detach(), b.detach()
    a_log, b_log = a.log(), b.log()
    f_ba, g_ab, f_aa, g_bb = pots
    f, g = sm(eps, "xy", b_log + g_ab / eps), sm(eps, "yx", a_log + f_ba / eps)
    value = (a * f).sum() + (b * g).sum()
    if debias:
        f, g = sm(eps, "xx", a_log + f_aa / eps), sm(eps, "yy", b_log + g_bb / eps)
        value = value - (a * f).sum() - (b * g).sum()
    return value
