r"""Transport-matched baselines for geodesic scores of residual stacks.

.. math::

    \tau(\mu_0, \mu_L) = \frac{W_2^2(\mu_0, \mu_L)}{\operatorname{Var} \mu_0},\qquad
    X_{k+1}^{(s)} = X_k^{(s)} + \tfrac{s}{L}\, \text{branch}_k(X_k^{(s)}) .

The optimal-transport score of Gai & Zhang (2021, arXiv 2102.09235) tends to 1 whenever a
stack barely moves its data (x_L ≈ x_0: the identity is the OT map), and K/W2² and LSS depend
on how far the data travel too. A score is only evidence of geodesic transport when it is
compared with a network that moves the data *as far* (normalised transport τ) without having
been trained to: the untrained stack with its residual branches rescaled by the ``s`` that
gives the trained stack's τ (:func:`transport_matched_scale`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import brentq

from .geodesic import output_spread, w2_squared

__all__ = ["normalised_transport", "transport_matched_scale"]


def normalised_transport(tracks) -> float:
    """τ = W2²(μ_0, μ_L) / Var μ_0 of tracks (L+1, m, k); nan if μ_0 is a single point (0/0)."""
    T = np.asarray(tracks, dtype=float)
    var0 = output_spread(T[0]) ** 2
    return w2_squared(T[0], T[-1]) / var0 if var0 > 0 else float("nan")


def transport_matched_scale(
    model, x: torch.Tensor, target: float, *, lo: float = 1e-4, hi: float = 1e4, rtol: float = 1e-9
) -> float:
    """The branch scale s with τ(model with branch_scale = s) = ``target`` (log-space root find).

    ``model`` is a residual stack (:class:`~wgflow.residual.stacks.ResidualStack`,
    ``residual=True``); its ``branch_scale`` is restored afterwards. Returns exactly 1.0 when
    the model at s = 1 already has τ = target within ``rtol`` (the negative control: an
    untrained network is its own matched baseline), and the s of [lo, hi] with the closest τ
    when no s attains the target (τ need not be monotone in s far from s = 1).
    """
    if not getattr(model, "residual", False):
        raise ValueError("transport_matched_scale needs a residual stack (residual=True)")
    s0 = model.branch_scale

    def tau(log_s):
        model.branch_scale = float(np.exp(log_s))
        with torch.no_grad():
            return normalised_transport(model.tracks(x).numpy())

    try:
        t1 = tau(0.0)
        if not np.isfinite(target) or abs(t1 - target) <= rtol * max(abs(target), 1e-300):
            return 1.0
        f = lambda ls: np.log(max(tau(ls), 1e-300)) - np.log(max(target, 1e-300))
        a, b = (np.log(lo), 0.0) if t1 > target else (0.0, np.log(hi))
        if f(a) * f(b) < 0:
            return float(np.exp(brentq(f, a, b, xtol=1e-6)))
        grid = np.linspace(np.log(lo), np.log(hi), 41)
        return float(np.exp(grid[int(np.argmin([abs(f(g)) for g in grid]))]))
    finally:
        model.branch_scale = s0
