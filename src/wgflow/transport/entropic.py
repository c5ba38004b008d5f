r"""Entropic optimal transport kernels: the log-domain soft-min and symmetric Sinkhorn iterations.

For the cost C(x, y) = |x - y|^p and a temperature eps, the soft-min of a potential h over a cloud y is

.. math::

    f_i = -\varepsilon \log \sum_j \exp\big(h_j - C(x_i, y_j) / \varepsilon\big),

and Sinkhorn's dual iterations alternate soft-mins between the clouds, symmetrised (averaged) and
annealed from eps = diameter^p down to blur^p by the factor ``scaling**p`` per step (eps-scaling,
GeomLoss [1, Alg. 3.5]). :mod:`.sinkhorn` (dense) and :mod:`.sinkhorn_multiscale` (truncated)
build the divergence on these kernels, :mod:`.dual` its certified bounds.

Numerical choices. The soft-min is a log-sum-exp (log domain: no underflow at small blur). It
runs over blocks of rows of x, so the (n, m) cost matrix is never held whole: memory is
O(block * m), set by ``block_bytes``. For p = 2 a block is one GEMM in the matmul form
|x|^2 + |y|^2 - 2 x.y (|x_i|^2 leaves the log-sum-exp), written into one reused buffer, and an
in-place log-sum-exp whose exponents are clamped at :data:`EXP_FLOOR` (the CPU's vectorised exp
leaves its fast path past its underflow threshold, where most entries of a row lie at small
blur). Float32 input runs in float32 (as GeomLoss and POT do). The gradient is a custom autograd
function that recomputes each block in the backward pass instead of storing it. eps-scaling
needs diameter^p and (diameter / blur)^p in floating-point range; :func:`sinkhorn_loop` says so
in one line where they are not (:func:`wgflow.transport.wasserstein` rescales the clouds first).

References
----------
[1] Feydy, J. (2020). Geometric data analysis, beyond convolutions. PhD thesis, ENS
    Paris-Saclay, Ch. 3 (and the GeomLoss library).
"""

from __future__ import annotations

import math
import warnings

import torch

__all__ = [
    "SINKHORN_BLOCK_BYTES",
    "EXP_FLOOR",
    "block_rows",
    "check_range",
    "cloud_diameter",
    "epsilon_schedule",
    "exp_rows_",
    "exponent_rows",
    "iterate",
    "lse_rows_",
    "sinkhorn_loop",
    "softmin",
    "softmin_rows",
]

#: bytes of one block of the cost matrix (rows of x times all of y): a few MiB stay in cache
SINKHORN_BLOCK_BYTES = 4 * 2**20
#: ``sinkhorn_divergence_pp`` takes the multiscale path in dimension <= 3 beyond this many pairs (n m)


def _cost(xb: torch.Tensor, y: torch.Tensor, y2: torch.Tensor, p: float):
    """C = |x_i - y_j|^p and D = |x_i - y_j| for a block of rows, both (r, m)."""
    d2 = ((xb * xb).sum(1, keepdim=True) + y2[None, :] - 2.0 * (xb @ y.T)).clamp_(min=0)  # (r, m)
    if p == 2:
        return d2, None
    d = d2.sqrt()
    return d.pow(p), d


def exponent_rows(xb, y, y2, h, eps, p):
    """h_j - C(x_i, y_j) / eps for a block of rows, (r, m); for p = 2 one fused GEMM plus one in-place pass."""
    if p == 2:
        # h_j - (|x_i|^2 + |y_j|^2 - 2 x_i.y_j) / eps
        S = torch.addmm((h - y2 / eps)[None, :], xb, y.T, alpha=2.0 / eps)
        return S.sub_((xb * xb).sum(1, keepdim=True) / eps)
    C, _ = _cost(xb, y, y2, p)
    return C.div_(-eps).add_(h[None, :])


def block_rows(n: int, m: int, itemsize: int, block_bytes: int) -> int:
    """Rows of x per block so that one (rows, m) block of ``itemsize``-byte entries fits in ``block_bytes``."""
    return int(max(1, min(n, block_bytes // (m * itemsize))))


#: exponents below this (relative to the row maximum, exp(0) = 1) are raised to it before ``exp``: each such
#: entry then counts exp(-80) < 2e-35 instead of less, so a row's sum moves by at most m * 2e-35 (far below
#: float32 and float64 rounding for any m that fits in memory). The vectorised ``exp`` of the CPU leaves its
#: fast path on inputs past its underflow threshold (float32 below -87, float64 below -708), where most
#: entries of a row lie at small blur.
EXP_FLOOR = -80.0


def exp_rows_(S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Overwrites S with exp(S_ij - max_j S_ij) (exponents clamped at EXP_FLOOR); returns the row maxima (r,)
    (0 for a row of -inf) and the mask of such rows."""
    mx = S.amax(1, keepdim=True)
    empty = mx[:, 0] == -torch.inf
    S.sub_(mx.masked_fill_(empty[:, None], 0.0)).clamp_(min=EXP_FLOOR).exp_()
    return mx[:, 0], empty


def lse_rows_(S: torch.Tensor) -> torch.Tensor:
    """log sum_j exp(S_ij) per row, (r,) (a row of -inf: -inf, as torch.logsumexp); overwrites S (:func:`exp_rows_`)."""
    mx, empty = exp_rows_(S)
    return (mx + S.sum(1).log()).masked_fill_(empty, -torch.inf)


def softmin_rows(x: torch.Tensor, y: torch.Tensor, h: torch.Tensor, eps: float, p: float, r: int) -> torch.Tensor:
    """f_i = -eps log sum_j exp(h_j - C_ij / eps), (n,), one (r, m) block of rows at a time.

    For p = 2 the row term |x_i|^2 / eps leaves the log-sum-exp, so a block costs one GEMM with
    the bias h_j - |y_j|^2 / eps folded in (``addmm`` against a contiguous y^T: a strided y^T is
    5x slower at k = 10) and one fused ``logsumexp`` pass: 2 k + O(1) flops per entry.
    """
    f = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    y2 = (y * y).sum(1)  # (m,)
    if p == 2:
        yT, bias = y.T.contiguous(), (h - y2 / eps)[None, :]  # (k, m), (1, m)
        buf = torch.empty(min(r, x.shape[0]), y.shape[0], dtype=x.dtype, device=x.device)  # one block, reused
        for s in range(0, x.shape[0], r):
            xb = x[s : s + r]
            S = torch.addmm(bias, xb, yT, alpha=2.0 / eps, out=buf[: xb.shape[0]])  # h_j - (|y_j|^2 - 2 x_i.y_j)/eps
            f[s : s + r] = (xb * xb).sum(1) - eps * lse_rows_(S)
        return f
    for s in range(0, x.shape[0], r):
        f[s : s + r] = -eps * lse_rows_(exponent_rows(x[s : s + r], y, y2, h, eps, p))
    return f


class _SoftMin(torch.autograd.Function):
    """f_i = -eps log sum_j exp(h_j - C(x_i, y_j)/eps), streamed over row blocks of x."""

    @staticmethod
    def forward(ctx, x, y, h, eps, p, block_bytes):
        f = softmin_rows(x, y, h, eps, p, block_rows(x.shape[0], y.shape[0], x.element_size(), block_bytes))
        ctx.save_for_backward(x, y, h, f)
        ctx.eps, ctx.p, ctx.block_bytes = eps, p, block_bytes
        return f

    @staticmethod
    def backward(ctx, go):
        x, y, h, f = ctx.saved_tensors
        eps, p = ctx.eps, ctx.p
        n, m = x.shape[0], y.shape[0]
        r = block_rows(n, m, x.element_size(), ctx.block_bytes)
        y2 = (y * y).sum(1)
        gx = torch.zeros_like(x) if ctx.needs_input_grad[0] else None
        gy = torch.zeros_like(y) if ctx.needs_input_grad[1] else None
        gh = torch.zeros_like(h) if ctx.needs_input_grad[2] else None
        for s in range(0, n, r):
            xb = x[s : s + r]
            C, D = _cost(xb, y, y2, p)
            # (r, m) soft-argmin weights, rows sum to 1 (exponents <= 0 up to rounding; clamped as in _lse_rows_)
            P = (h[None, :] - C / eps + f[s : s + r, None] / eps).clamp_(min=EXP_FLOOR).exp_()
            if gh is not None:
                gh -= eps * (go[s : s + r, None] * P).sum(0)
            # grad_x C(x, y) = p |x - y|^{p-2} (x - y)
            W = P * 2.0 if p == 2 else P * torch.where(D > 0, p * D.clamp(min=1e-300).pow(p - 2), 0.0)
            Q = go[s : s + r, None] * W  # (r, m)
            if gx is not None:
                gx[s : s + r] = xb * Q.sum(1, keepdim=True) - Q @ y
            if gy is not None:
                gy += y * Q.sum(0)[:, None] - Q.T @ xb
        return gx, gy, gh, None, None, None


def softmin(
    eps: float,
    x: torch.Tensor,
    y: torch.Tensor,
    h: torch.Tensor,
    p: float = 2.0,
    block_bytes: int = SINKHORN_BLOCK_BYTES,
) -> torch.Tensor:
    r"""Soft-min f_i = -eps log sum_j exp(h_j - |x_i - y_j|^p / eps), shape (n,), differentiable in x, y, h."""
    return _SoftMin.apply(x, y, h, float(eps), float(p), int(block_bytes))


def epsilon_schedule(p: float, diameter: float, blur: float, scaling: float) -> list[float]:
    """eps from diameter^p down to blur^p, geometric with ratio scaling^p (GeomLoss's eps-scaling)."""
    lo, hi, step = p * math.log(blur), p * math.log(diameter), p * math.log(scaling)
    eps = [math.exp(hi)]
    e = hi
    while e + step > lo:
        e += step
        eps.append(math.exp(e))
    eps.append(math.exp(lo))
    return eps


def check_range(p: float, diameter: float, blur: float, dtype: torch.dtype) -> None:
    """One-line ValueError unless the largest cost diameter^p and the largest exponent (diameter / blur)^p of
    eps-scaling are finite in ``dtype`` with room to spare (2^16)."""
    room = math.log2(torch.finfo(dtype).max) - 16
    if p * math.log2(max(diameter, blur)) > room:
        raise ValueError(
            f"the cost scale diameter^p = {diameter:.3g}^{p:g} overflows {dtype}: rescale the clouds "
            "(wasserstein() does) or use a smaller p"
        )
    if p * math.log2(max(diameter, blur) / blur) > room:
        raise ValueError(
            f"blur is too small for p = {p:g}: (diameter / blur)^p overflows {dtype}; use blur >= "
            f"{2 ** (-room / p):.3g} x the clouds' diameter, a smaller p, or float64 input"
        )


def cloud_diameter(x: torch.Tensor, y: torch.Tensor) -> float:
    """Diagonal |hi - lo| of the bounding box of both clouds, an upper bound of every |x_i - y_j|."""
    lo = torch.minimum(x.min(0).values, y.min(0).values)
    hi = torch.maximum(x.max(0).values, y.max(0).values)
    return float((hi - lo).norm())


def sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, debias, block_bytes, tol=None, max_iter=1000):
    """Dual potentials (f_ba, g_ab, f_aa, g_bb) after eps-scaling, without autograd [1, Alg. 3.5].

    With ``tol``, iterations continue at the final eps (alternating updates for the cross
    potentials, averaged ones for the symmetric self potentials) until no potential moves
    by more than ``tol`` (in units of the cost), or ``max_iter`` more iterations ran.
    """
    if not (blur > 0 and math.isfinite(blur)):
        raise ValueError(f"blur must be a positive number, got {blur}")
    if not (0 < scaling < 1):
        raise ValueError(f"scaling must lie in (0, 1), got {scaling}")
    diameter = max(cloud_diameter(x.detach(), y.detach()), blur)
    check_range(p, diameter, blur, x.dtype)
    xd, yd = x.detach(), y.detach()
    clouds = {"xy": (xd, yd), "yx": (yd, xd), "xx": (xd, xd), "yy": (yd, yd)}

    def sm(eps, pair, h):
        return softmin(eps, *clouds[pair], h, p, block_bytes)

    return iterate(sm, a_log, b_log, epsilon_schedule(p, diameter, blur, scaling), debias, None, tol, max_iter)


def iterate(sm, a_log, b_log, schedule, debias, init, tol=None, max_iter=1000):
    """Symmetric Sinkhorn with eps-scaling on a soft-min operator ``sm(eps, pair, h)``, pair in
    {"xy", "yx", "xx", "yy"} (the soft-min over the second cloud at the points of the first).

    Starts from ``init`` = (f_ba, g_ab, f_aa, g_bb), or None to start at schedule[0] from zero
    potentials; returns the potentials and the eps of every iteration (see ``_sinkhorn_loop``).
    """
    with torch.no_grad():
        eps = schedule[0]
        if init is None:
            init = (sm(eps, "xy", b_log), sm(eps, "yx", a_log), None, None)
            if debias:
                init = (*init[:2], sm(eps, "xx", a_log), sm(eps, "yy", b_log))
        f_ba, g_ab, f_aa, g_bb = init
        for eps in schedule:
            # symmetric Sinkhorn: average the old potential and its update
            ft_ba, gt_ab = sm(eps, "xy", b_log + g_ab / eps), sm(eps, "yx", a_log + f_ba / eps)
            f_ba, g_ab = 0.5 * (f_ba + ft_ba), 0.5 * (g_ab + gt_ab)
            if debias:
                ft_aa, gt_bb = sm(eps, "xx", a_log + f_aa / eps), sm(eps, "yy", b_log + g_bb / eps)
                f_aa, g_bb = 0.5 * (f_aa + ft_aa), 0.5 * (g_bb + gt_bb)
        extra, change = 0, math.inf
        while tol is not None and extra < max_iter:
            extra += 1
            ft_ba = sm(eps, "xy", b_log + g_ab / eps)
            gt_ab = sm(eps, "yx", a_log + ft_ba / eps)
            change = max(float((ft_ba - f_ba).abs().max()), float((gt_ab - g_ab).abs().max()))
            f_ba, g_ab = ft_ba, gt_ab
            if debias:
                ft_aa, gt_bb = sm(eps, "xx", a_log + f_aa / eps), sm(eps, "yy", b_log + g_bb / eps)
                ft_aa, gt_bb = 0.5 * (f_aa + ft_aa), 0.5 * (g_bb + gt_bb)
                change = max(change, float((ft_aa - f_aa).abs().max()), float((gt_bb - g_bb).abs().max()))
                f_aa, g_bb = ft_aa, gt_bb
            if change <= tol:
                break
        else:
            if tol is not None:
                warnings.warn(
                    f"Sinkhorn stopped after max_iter={max_iter} iterations at the final blur with potentials "
                    f"still moving by {change / tol if tol > 0 else math.inf:.2g} x tol; raise blur or max_iter",
                    RuntimeWarning,
                    stacklevel=5,
                )
    return f_ba, g_ab, f_aa, g_bb, list(schedule) + [eps] * extra
