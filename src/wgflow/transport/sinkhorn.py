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

Numerical choices. The soft-min is a ``logsumexp`` (log domain: no underflow at small
blur). It runs over blocks of rows of x, so the (n, m) cost matrix is never held
whole: memory is O(block * m), set by ``block_bytes``. For p = 2 a block is one GEMM in
the matmul form |x|^2 + |y|^2 - 2 x.y (|x_i|^2 leaves the log-sum-exp), written into one
reused buffer, and an in-place log-sum-exp whose exponents are clamped at :data:`EXP_FLOOR`
(the CPU's vectorised exp is 10x slower past its underflow threshold, where most entries of a
row lie at small blur). Measured per pair of points and soft-min on one thread (5000 x 5000):
d = 10, 3.4 ns in float64 and 1.5 ns in float32 (15 and 12 ns with ``torch.logsumexp``);
d = 100, 8 and 4 ns, where the GEMM takes most of the time (benchmarks/bench_transport.py
prints GFLOP/s next to a plain GEMM). Float32 input runs in float32 (as GeomLoss and POT
do), about 2x faster; the value agrees with float64 to ~1e-7 relative on Gaussian clouds.
Its gradient is a custom autograd function that recomputes each block in the
backward pass instead of storing it. The iterations run without autograd; only the last
extrapolation is differentiated, with the potentials held fixed (envelope theorem, [2, §3.3]);
the gradient with respect to x_i is sum_j pi_ij grad_x C(x_i, y_j) minus its self term.
In dimension <= 3 :mod:`.sinkhorn_multiscale` (clusters and a truncated kernel) replaces
the dense soft-min beyond ``MULTISCALE_MIN_PAIRS`` pairs.

Why not KeOps/GeomLoss. ``pykeops`` 2.3 and ``geomloss`` 0.3.1 are on the package index, but
neither is a dependency: ``pip install geomloss`` resolves another torch build with its CUDA
wheels, and KeOps compiles a C++ module per formula at first use. Tried here (pykeops 2.3
installed without dependencies, g++ 13): its first CPU kernel (the soft-min above, d = 10)
had not finished compiling after 15 minutes on the shared 2-core machine (load average ~10), so it
was not benchmarked against this module. Its CPU backend does not call BLAS, while the
blocked soft-min above spends its time in one GEMM per block.

References
----------
[1] Genevay, A., Peyré, G., Cuturi, M. (2018). Learning generative models with Sinkhorn
    divergences. AISTATS.
[2] Feydy, J. (2020). Geometric data analysis, beyond convolutions. PhD thesis, ENS
    Paris-Saclay, Ch. 3 (and the GeomLoss library).
"""

from __future__ import annotations

import math
import warnings

import torch

__all__ = ["sinkhorn_divergence_pp", "sinkhorn_barycentric_map", "softmin", "epsilon_schedule"]

#: bytes of one block of the cost matrix (rows of x times all of y). Blocks of a few MiB stay in
#: cache: measured 2x faster than 64 MiB blocks for 3000 x 3000 points (one thread); at 5000 x 5000,
#: d = 10, 4 MiB blocks were 1.1-1.5x faster than 16 MiB ones and 1.5x faster than 256 KiB ones.
SINKHORN_BLOCK_BYTES = 4 * 2**20
#: ``sinkhorn_divergence_pp`` takes the multiscale path in dimension <= 3 beyond this many pairs (n m)
MULTISCALE_MIN_PAIRS = 10_000_000


def _cost(xb: torch.Tensor, y: torch.Tensor, y2: torch.Tensor, p: float):
    """C = |x_i - y_j|^p and D = |x_i - y_j| for a block of rows, both (r, m)."""
    d2 = ((xb * xb).sum(1, keepdim=True) + y2[None, :] - 2.0 * (xb @ y.T)).clamp_(min=0)  # (r, m)
    if p == 2:
        return d2, None
    d = d2.sqrt()
    return d.pow(p), d


def _exponent(xb, y, y2, h, eps, p):
    """h_j - C(x_i, y_j) / eps for a block of rows, (r, m); for p = 2 one fused GEMM plus one in-place pass."""
    if p == 2:
        # h_j - (|x_i|^2 + |y_j|^2 - 2 x_i.y_j) / eps
        S = torch.addmm((h - y2 / eps)[None, :], xb, y.T, alpha=2.0 / eps)
        return S.sub_((xb * xb).sum(1, keepdim=True) / eps)
    C, _ = _cost(xb, y, y2, p)
    return C.div_(-eps).add_(h[None, :])


def _rows(n: int, m: int, itemsize: int, block_bytes: int) -> int:
    return int(max(1, min(n, block_bytes // (m * itemsize))))


#: exponents below this (relative to the row maximum, exp(0) = 1) are raised to it before ``exp``: each such
#: entry then counts exp(-80) < 2e-35 instead of less, so a row's sum moves by at most m * 2e-35 (far below
#: float32 and float64 rounding for any m that fits in memory). The vectorised ``exp`` of the CPU leaves its
#: fast path on inputs past its underflow threshold (float32 below -87, float64 below -708): measured 10x
#: slower per entry, and at small blur most entries of a row are there (12 ns per pair, 1.6 ns clamped).
EXP_FLOOR = -80.0


def _exp_rows_(S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Overwrites S with exp(S_ij - max_j S_ij) (exponents clamped at EXP_FLOOR); returns the row maxima (r,)
    (0 for a row of -inf) and the mask of such rows."""
    mx = S.amax(1, keepdim=True)
    empty = mx[:, 0] == -torch.inf
    S.sub_(mx.masked_fill_(empty[:, None], 0.0)).clamp_(min=EXP_FLOOR).exp_()
    return mx[:, 0], empty


def _lse_rows_(S: torch.Tensor) -> torch.Tensor:
    """log sum_j exp(S_ij) per row, (r,) (a row of -inf: -inf, as torch.logsumexp); overwrites S (:func:`_exp_rows_`)."""
    mx, empty = _exp_rows_(S)
    return (mx + S.sum(1).log()).masked_fill_(empty, -torch.inf)


def _softmin_rows(x: torch.Tensor, y: torch.Tensor, h: torch.Tensor, eps: float, p: float, r: int) -> torch.Tensor:
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
            f[s : s + r] = (xb * xb).sum(1) - eps * _lse_rows_(S)
        return f
    for s in range(0, x.shape[0], r):
        f[s : s + r] = -eps * _lse_rows_(_exponent(x[s : s + r], y, y2, h, eps, p))
    return f


class _SoftMin(torch.autograd.Function):
    """f_i = -eps log sum_j exp(h_j - C(x_i, y_j)/eps), streamed over row blocks of x."""

    @staticmethod
    def forward(ctx, x, y, h, eps, p, block_bytes):
        f = _softmin_rows(x, y, h, eps, p, _rows(x.shape[0], y.shape[0], x.element_size(), block_bytes))
        ctx.save_for_backward(x, y, h, f)
        ctx.eps, ctx.p, ctx.block_bytes = eps, p, block_bytes
        return f

    @staticmethod
    def backward(ctx, go):
        x, y, h, f = ctx.saved_tensors
        eps, p = ctx.eps, ctx.p
        n, m = x.shape[0], y.shape[0]
        r = _rows(n, m, x.element_size(), ctx.block_bytes)
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
    eps = [diameter**p]
    e = hi
    while e + step > lo:
        e += step
        eps.append(math.exp(e))
    eps.append(blur**p)
    return eps


def _diameter(x: torch.Tensor, y: torch.Tensor) -> float:
    lo = torch.minimum(x.min(0).values, y.min(0).values)
    hi = torch.maximum(x.max(0).values, y.max(0).values)
    return float((hi - lo).norm())


def _sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, debias, block_bytes, tol=None, max_iter=1000):
    """Dual potentials (f_ba, g_ab, f_aa, g_bb) after eps-scaling, without autograd [2, Alg. 3.5].

    With ``tol``, iterations continue at the final eps (alternating updates for the cross
    potentials, averaged ones for the symmetric self potentials) until no potential moves
    by more than ``tol`` (in units of the cost), or ``max_iter`` more iterations ran.
    """
    if not (blur > 0 and math.isfinite(blur)):
        raise ValueError(f"blur must be a positive number, got {blur}")
    if not (0 < scaling < 1):
        raise ValueError(f"scaling must lie in (0, 1), got {scaling}")
    diameter = max(_diameter(x.detach(), y.detach()), blur)
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
                    f"Sinkhorn stopped after max_iter={max_iter} iterations at eps={eps:g} with "
                    f"potentials still moving by {change:.2g} > tol={tol:g}; raise blur or max_iter",
                    RuntimeWarning,
                    stacklevel=5,
                )
    return f_ba, g_ab, f_aa, g_bb, list(schedule) + [eps] * extra


def sinkhorn_barycentric_map(
    x, y, a, b, *, p=2.0, blur=0.05, scaling=0.5, tol=None, max_iter=1000, block_bytes=SINKHORN_BLOCK_BYTES
):
    r"""T(x_i) = sum_j pi_ij y_j / a_i for the entropic plan pi, (n, k), streamed over row blocks.

    The row-conditional of the plan is a soft-max: pi_ij / a_i = softmax_j(log b_j + (g_j - C_ij) / eps).
    """
    a_log, b_log = a.detach().log(), b.detach().log()
    _, g_ab, _, _, schedule = _sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, False, block_bytes, tol, max_iter)
    eps = schedule[-1]
    with torch.no_grad():
        h = b_log + g_ab / eps  # (m,)
        y2 = (y * y).sum(1)
        r = _rows(x.shape[0], y.shape[0], x.element_size(), block_bytes)
        out = torch.empty_like(x)
        for s in range(0, x.shape[0], r):
            S = _exponent(x[s : s + r], y, y2, h, eps, p)
            _exp_rows_(S)  # S <- exp(S - row max), clamped
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
        from .sinkhorn_multiscale import multiscale_potentials  # (it builds on this module)

        if k > 3:
            raise ValueError(f"the multiscale Sinkhorn is for dimension k <= 3, got k = {k}")
        pots, schedule, msm, ox, oy = multiscale_potentials(x, y, a_log, b_log, p, blur, scaling, debias)
        q = {"x": x[ox], "y": y[oy]}  # the sorted clouds, still attached to x and y
        value = _extrapolate(lambda e, pair, h: msm(e, pair, h, True, q), a[ox], b[oy], pots, schedule[-1], debias)
        return value, len(schedule) + 1
    *pots, schedule = _sinkhorn_loop(x, y, a_log, b_log, p, blur, scaling, debias, block_bytes, tol, max_iter)
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
