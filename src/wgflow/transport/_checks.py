r"""Input validation and conditioning shared by the transport solvers.

Every public function of :mod:`wgflow.transport` accepts NumPy arrays or torch
tensors. Validation raises :class:`ValueError` with one line that names the
offending argument, so a bad call fails before any solver runs.

Conditioning (:func:`condition`) uses two symmetries of W_p: invariance under a common
translation and homogeneity of degree 1,

.. math::

    W_p(\mu, \nu) = s \, W_p(\tau_\# \mu, \tau_\# \nu), \qquad \tau(z) = (z - c) / s,

so clouds far from the origin, of extreme scale, or raised to a large p are solved where their
costs |x - y|^p are representable, and the answer is scaled back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["as_cloud", "as_weights", "check_p", "condition", "is_torch", "pair", "same_measure"]


def is_torch(*xs: Any) -> bool:
    """True if any argument is a torch tensor (the result is then a tensor too)."""
    return any(isinstance(x, torch.Tensor) for x in xs)


def as_cloud(x: Any, name: str) -> torch.Tensor:
    """A point cloud as a floating torch tensor of shape (n, k); 1-D input means k = 1.

    NumPy input is wrapped without a copy; integer input becomes float64.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from e
    if not t.is_floating_point():
        if t.dtype == torch.bool or t.is_complex():
            raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
        t = t.to(torch.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (n, k), got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty: a measure needs at least one point")
    if not _all_finite(t):
        raise ValueError(f"{name} contains NaN or Inf")
    return t


def _all_finite(t: torch.Tensor) -> bool:
    """All entries finite. A finite sum proves it (NaN and Inf propagate); only an overflowing
    or non-finite sum needs the elementwise check (which costs ~2 s on 10^8 values)."""
    td = t.detach()
    return bool(torch.isfinite(td.sum())) or bool(torch.isfinite(td).all())


def as_weights(w: Any, n: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """Weights (n,) normalised to sum 1, in the dtype of ``like``; uniform if ``w`` is None.

    Raises if ``w`` has the wrong shape, a NaN/Inf, a negative entry, or a sum
    that is not a positive finite number (not normalisable).
    """
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    t = w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w, dtype=np.float64))
    t = t.to(dtype=like.dtype, device=like.device)
    if t.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match its points, got {tuple(t.shape)}")
    td = t.detach()
    if not bool(torch.isfinite(td).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    if bool((td < 0).any()):
        raise ValueError(f"{name} has negative entries (min {float(td.min()):.3g}); weights must be >= 0")
    s = float(td.sum())
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"{name} must have a positive finite sum to be normalised, got {s:.3g}")
    return t / t.sum()


def pair(x: Any, y: Any, a: Any = None, b: Any = None):
    """Validate two weighted clouds: returns (x (n, k), y (m, k), a (n,), b (m,)) as tensors of one dtype."""
    xt, yt = as_cloud(x, "x"), as_cloud(y, "y")
    if xt.shape[1] != yt.shape[1]:
        raise ValueError(f"x and y must have the same dimension k, got x: {tuple(xt.shape)} and y: {tuple(yt.shape)}")
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    xt, yt = xt.to(dtype), yt.to(dtype)
    return xt, yt, as_weights(a, xt.shape[0], "a", xt), as_weights(b, yt.shape[0], "b", yt)


def check_p(p: Any) -> float:
    """The exponent p as a float; one-line ValueError unless it is a real number in [1, inf) that a float holds."""
    try:
        q = float(p)
    except (TypeError, ValueError, OverflowError):
        q = math.nan
    if not (q >= 1 and math.isfinite(q)):
        shown = repr(p) if len(repr(p)) <= 40 else repr(p)[:37] + "..."
        raise ValueError(f"p must be a finite number >= 1, got {shown}")
    return q


def _log2_norm(v: torch.Tensor) -> float:
    """log2 |v| of a float64 vector without overflow or underflow (-inf for v = 0)."""
    top = float(v.abs().max())
    return -math.inf if top == 0 else math.log2(top) + math.log2(float((v / top).norm()))


def condition(x: torch.Tensor, y: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Clouds x (n, k), y (m, k) moved and rescaled for their costs to stay in range: (x', y', s) (module docstring).

    Nothing changes (x' = x, y' = y, s = 1) while, with q = max(p, 2), the largest cost (2 R)^q (R the
    largest norm of a point's bounding box corner), the scale diameter^q and the offset R / diameter
    stay far inside the dtype's range (2^(e/4), e its largest exponent; the offset within 2^10, where
    the matmul form |x|^2 + |y|^2 - 2 x.y still keeps digits). Otherwise c is the centre of the
    bounding box of both clouds and s the power of two at or above its diagonal: every cost
    |x' - y'|^p is then at most 1, and dividing by s is exact. c and s are constants (not differentiated).
    """
    lo = torch.minimum(x.detach().amin(0), y.detach().amin(0)).double()  # (k,)
    hi = torch.maximum(x.detach().amax(0), y.detach().amax(0)).double()
    half = hi / 2 - lo / 2  # half-widths, computed without overflow
    log_diam = 1 + _log2_norm(half)  # log2 of the box's diagonal, >= log2 of every |x_i - y_j|
    if log_diam == -math.inf:  # one point in all: W_p = 0 at any scale
        return x, y, 1.0
    log_reach = _log2_norm(torch.maximum(hi.abs(), lo.abs()))
    q, room = max(p, 2.0), math.log2(torch.finfo(x.dtype).max) / 4
    if q * (1 + log_reach) <= room and q * log_diam >= -room and log_reach - log_diam <= 10:
        return x, y, 1.0
    e = math.ceil(log_diam)
    if e > 1000:
        raise ValueError(f"the clouds span 2^{log_diam:.0f}, beyond float64's range")
    c = (lo + half).to(x.dtype)  # (k,)
    s = math.ldexp(1.0, e)
    return (x - c) / s, (y - c) / s, s


def same_measure(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> bool:
    """True if sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j} are the same measure (W_p = 0)."""
    pts, inv = torch.unique(torch.cat([x.detach(), y.detach()]), dim=0, return_inverse=True)
    n = x.shape[0]
    ma = torch.zeros(len(pts), dtype=torch.float64).index_add_(0, inv[:n], a.detach().double())
    mb = torch.zeros(len(pts), dtype=torch.float64).index_add_(0, inv[n:], b.detach().double())
    return bool(torch.allclose(ma, mb, rtol=1e-9, atol=1e-12))
