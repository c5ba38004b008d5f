r"""Lazy or active? Diagnostics of a recorded trajectory (Chizat, Oyallon & Bach, NeurIPS 2019).

In the lazy (kernel) regime the parameters barely move and the network stays equal to its
linearisation at the start; in the active (mean-field) regime the particles travel and the
linearisation fails. Two numbers along a trajectory measure this:

    relative movement   m(t) = |theta(t) - theta(0)|_F / |theta(0)|_F,
    linearisation gap   g(t) = |f_t - f^lin_t|_{x} / |f_t - f_0|_{x},

    f^lin_t(x) = f_0(x) + grad_theta f_0(x) . (theta(t) - theta(0))     (COB 2019, eq. 2),

with |.|_x the root mean square over probe inputs x. g is computed with the tangent unit
(:class:`~wgflow.measures.linearized.Tangent`), one Jacobian-vector product per snapshot.

References
----------
1. L. Chizat, E. Oyallon & F. Bach, "On lazy training in differentiable programming", NeurIPS 2019.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..measures.linearized import Tangent
from ..measures.measure import ParticleMeasure

__all__ = ["relative_movement", "linearisation_gap", "Regime", "lazy_or_active"]


def relative_movement(traj) -> np.ndarray:
    """m(t_k) = |theta(t_k) - theta(0)|_F / |theta(0)|_F at every snapshot, shape (S,)."""
    s = np.asarray(traj.snapshots, dtype=float)  # (S, n, p)
    d = s - s[:1]
    return np.sqrt((d * d).sum(axis=(1, 2)) / max((s[0] * s[0]).sum(), 1e-300))


def linearisation_gap(traj, x: torch.Tensor | np.ndarray, alpha: float | None = None) -> np.ndarray:
    """g(t_k) = |f_t - f^lin_t| / |f_t - f_0| on probe inputs x (B, d), shape (S,); g(0) = 0."""
    alpha = float(traj.meta.get("alpha", 1.0)) if alpha is None else float(alpha)
    unit = traj.final.unit
    x = torch.as_tensor(x, dtype=torch.float64)
    th0 = torch.from_numpy(np.ascontiguousarray(traj.snapshots[0], dtype=np.float64))  # (n, p)
    lin = Tangent(unit)
    f0 = ParticleMeasure(th0, unit).output(x, alpha)  # (B,)
    out = np.zeros(len(traj.snapshots))
    for k in range(1, len(traj.snapshots)):
        th = torch.from_numpy(np.ascontiguousarray(traj.snapshots[k], dtype=np.float64))
        f = ParticleMeasure(th, unit).output(x, alpha)
        f_lin = ParticleMeasure(torch.cat([th, th0], dim=1), lin).output(x, alpha)
        moved = float((f - f0).norm())
        out[k] = float((f - f_lin).norm()) / moved if moved > 0 else 0.0
    return out


@dataclass(frozen=True)
class Regime:
    """Final relative movement and linearisation gap (None without probe inputs), and the verdict.

    ``label`` is "lazy" when the decisive number (the gap if known, else the movement) is below
    ``threshold``, otherwise "active".
    """

    movement: float
    gap: float | None
    threshold: float
    label: str


def lazy_or_active(traj, x: torch.Tensor | np.ndarray | None = None, *, threshold: float = 0.1) -> Regime:
    """Classify a trajectory as lazy or active from its final movement and linearisation gap."""
    m = float(relative_movement(traj)[-1])
    g = None if x is None else float(linearisation_gap(traj, x)[-1])
    decisive = m if g is None else g
    return Regime(m, g, float(threshold), "lazy" if decisive < threshold else "active")
