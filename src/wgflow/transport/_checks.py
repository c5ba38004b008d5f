"""Input validation shared by the transport solvers.

Every public function of :mod:`wgflow.transport` accepts NumPy arrays or torch
tensors. Validation raises :class:`ValueError` with one line that names the
offending argument, so a bad call fails before any solver runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["as_cloud", "as_weights", "check_p", "is_torch", "pair"]


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
    p = float(p)
    if not (p >= 1 and math.isfinite(p)):
        raise ValueError(f"p must be a finite number >= 1, got {p}")
    return p
