r"""Measuring a recorded particle flow as a curve in Wasserstein space.

For the mean-field flow d theta/dt = -grad V(theta; mu_t) (docs/science.md §1.4), the curve
t -> mu_t is absolutely continuous in (P_2, W2) with

.. math::

    |\mu'|(t) = \lim_{h \to 0} \frac{W_2(\mu_t, \mu_{t+h})}{h} = \|\nabla V\|_{L^2(\mu_t)},
    \qquad
    \frac{d}{dt} R(\mu_t) = -\|\nabla V\|^2_{L^2(\mu_t)}

(the velocity -grad V is a gradient, hence in the tangent space, so the metric speed
equals its L^2 norm; the second identity is energy dissipation) [1, Thm 8.3.1, §11.2].
For particles ||grad V||^2_{L^2(mu_n)} = sum_i a_i |G_i|^2 with G_i = grad V(theta_i; mu_n)
the velocity field returned by ``objective.value_and_grad``.

The functions below take a :class:`wgflow.Trajectory` (snapshots (S, n, p) at
``snapshot_times``) or a pair ``(snapshots, times)`` of arrays.

References
----------
[1] Ambrosio, L., Gigli, N., Savaré, G. (2008). Gradient flows in metric spaces and in the
    space of probability measures. Birkhäuser.
[2] Chizat, L., Bach, F. (2018). On the global convergence of gradient descent for
    over-parameterized models using optimal transport. NeurIPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .distances import wasserstein
from .particles import tracked_w2

__all__ = [
    "w2_from_start",
    "w2_between",
    "metric_speed",
    "velocity_norm",
    "energy_dissipation",
    "MetricSpeed",
    "DissipationCheck",
]


def _arrays(traj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(snapshots (S, n, p), times (S,), weights (n,) or None) from a Trajectory or a (snapshots, times) pair."""
    if hasattr(traj, "snapshots") and hasattr(traj, "snapshot_times"):
        snaps, times = np.asarray(traj.snapshots), np.asarray(traj.snapshot_times, dtype=np.float64)
        final = getattr(traj, "final", None)
        w = getattr(final, "weights", None)
        weights = None if w is None else w.detach().cpu().numpy()
    elif isinstance(traj, (tuple, list)) and len(traj) == 2:
        snaps, times = np.asarray(traj[0]), np.asarray(traj[1], dtype=np.float64)
        weights = None
    else:
        raise ValueError("traj must be a wgflow.Trajectory or a pair (snapshots (S, n, p), times (S,))")
    if snaps.ndim != 3 or times.shape != (snaps.shape[0],):
        raise ValueError(f"traj needs snapshots (S, n, p) and times (S,), got {snaps.shape} and {times.shape}")
    return snaps, times, weights


def _distance(x, y, a, b, method: str, options: dict) -> float:
    if method == "tracked":
        return float(tracked_w2(x, y, a))
    return float(wasserstein(x, y, a, b, p=2, method=method, **options))


def w2_from_start(traj, *, method: str = "auto", **options) -> np.ndarray:
    r"""W2(mu_t, mu_0) at every snapshot, shape (S,).

    .. math::

        D(t_k) = W_2(\mu_{t_k}, \mu_{t_0})

    Parameters
    ----------
    traj : Trajectory or (snapshots (S, n, p), times (S,)).
    method : a :func:`wasserstein` method, or "tracked" for the identity-coupling upper bound
        (each particle against its own start; O(n p) per snapshot).
    options : passed to :func:`wasserstein` (n_projections, blur, ...).
    """
    snaps, _, w = _arrays(traj)
    return np.array([_distance(s, snaps[0], w, w, method, options) for s in snaps])


def w2_between(traj_a, traj_b, *, method: str = "auto", atol: float = 1e-9, **options):
    r"""W2 between two runs (e.g. of widths n and n') at their common snapshot times.

    .. math::

        D(t) = W_2(\mu^{(a)}_t, \mu^{(b)}_t), \qquad t \in T_a \cap T_b

    In mean-field time the law of large numbers gives D(t) = O(n^{-1/2}) on finite horizons
    (propagation of chaos) [2, Thm 2.6].

    Returns
    -------
    (times (T,), distances (T,)) at the snapshot times the two runs share (within ``atol``).
    Raises ValueError if they share none.
    """
    sa, ta, wa = _arrays(traj_a)
    sb, tb, wb = _arrays(traj_b)
    if sa.shape[2] != sb.shape[2]:
        raise ValueError(f"the runs have particles of different dimension p: {sa.shape[2]} and {sb.shape[2]}")
    pairs = [(i, int(np.argmin(np.abs(tb - t)))) for i, t in enumerate(ta)]
    pairs = [(i, j) for i, j in pairs if abs(tb[j] - ta[i]) <= atol * max(1.0, abs(ta[i]))]
    if not pairs:
        raise ValueError(
            "the two trajectories share no snapshot time; record both with the same "
            "FlowConfig (eta, steps, snapshots) to compare them at matched times"
        )
    if method == "tracked" and sa.shape[1] != sb.shape[1]:
        raise ValueError("method='tracked' needs runs of equal width (the same particles in both)")
    d = np.array([_distance(sa[i], sb[j], wa, wb, method, options) for i, j in pairs])
    return ta[[i for i, _ in pairs]], d


def velocity_norm(mu, objective, alpha: float = 1.0) -> float:
    r"""Kinetic energy norm ||grad V||_{L^2(mu)} = (sum_i a_i |G_i|^2)^{1/2} of the flow's velocity at mu."""
    _, G = objective.value_and_grad(mu, alpha)
    return float(torch.sqrt((mu.a * (G * G).sum(1)).sum()))


@dataclass(frozen=True)
class MetricSpeed:
    """Finite-difference metric speed of a recorded curve.

    times : (S-1,) midpoints of consecutive snapshots.
    speed : (S-1,) W2(mu_{t_k}, mu_{t_{k+1}}) / (t_{k+1} - t_k), a lower bound of the mean speed on the interval.
    velocity_norm : (S-1,) mean of ||grad V||_{L^2} at the two ends (None without an objective).
    """

    times: np.ndarray
    speed: np.ndarray
    velocity_norm: np.ndarray | None = None

    @property
    def rel_error(self) -> float:
        """max_k |speed_k - velocity_norm_k| / max_k velocity_norm_k."""
        if self.velocity_norm is None:
            raise ValueError("no objective was given: velocity_norm is unknown")
        return float(np.max(np.abs(self.speed - self.velocity_norm)) / np.max(np.abs(self.velocity_norm)))


def metric_speed(traj, objective=None, *, alpha: float | None = None, method: str = "auto", **options) -> MetricSpeed:
    r"""Metric speed |mu'|(t) ~ W2(mu_t, mu_{t+h}) / h between consecutive snapshots.

    .. math::

        |\mu'|(t_{k+1/2}) \approx \frac{W_2(\mu_{t_k}, \mu_{t_{k+1}})}{t_{k+1} - t_k}
        \quad \text{vs} \quad \|\nabla V\|_{L^2(\mu_t)}

    For a gradient flow both agree as h -> 0 [1, Thm 8.3.1]; with log-spaced snapshots the
    late intervals are long and the ratio is only a lower bound of the mean speed. Record
    linearly spaced snapshots (``FlowConfig(snapshot_spacing="linear")``) to measure speed.

    Parameters
    ----------
    traj : Trajectory (needed when ``objective`` is given) or (snapshots, times).
    objective : optional core objective; gives ||grad V||_{L^2(mu_t)} for comparison.
    alpha : output scale (default: the trajectory's, else 1).
    method, options : passed to :func:`wasserstein` ("tracked" for the identity coupling).
    """
    snaps, times, w = _arrays(traj)
    dt = np.diff(times)
    if (dt <= 0).any():
        raise ValueError("snapshot times must be strictly increasing to estimate a speed")
    d = np.array([_distance(snaps[k + 1], snaps[k], w, w, method, options) for k in range(len(dt))])
    vn = None
    if objective is not None:
        norms = np.array([velocity_norm(m, objective, _alpha(traj, alpha)) for m in _measures(traj)])
        vn = 0.5 * (norms[1:] + norms[:-1])
    return MetricSpeed(0.5 * (times[1:] + times[:-1]), d / dt, vn)


def _alpha(traj, alpha):
    if alpha is not None:
        return float(alpha)
    return float(getattr(traj, "meta", {}).get("alpha", 1.0))


def _measures(traj):
    if not hasattr(traj, "measure_at"):
        raise ValueError("evaluating an objective needs a wgflow.Trajectory (it knows the unit of the particles)")
    return [traj.measure_at(k) for k in range(len(traj.snapshots))]


@dataclass(frozen=True)
class DissipationCheck:
    r"""Energy dissipation along a recorded flow, on intervals [t_k, t_{k+1}].

    times : (S-1,) interval midpoints; energy : (S,) E(mu_{t_k}) (objective plus weight decay).
    dEdt : (S-1,) finite differences (E_{k+1} - E_k) / (t_{k+1} - t_k).
    rate : (S-1,) predicted -||grad V||^2_{L^2(mu_t)} (trapezoid of the two ends).
    """

    times: np.ndarray
    energy: np.ndarray
    dEdt: np.ndarray
    rate: np.ndarray

    @property
    def rel_error(self) -> float:
        """||dEdt - rate||_2 / ||rate||_2 over the intervals."""
        return float(np.linalg.norm(self.dEdt - self.rate) / np.linalg.norm(self.rate))


def energy_dissipation(traj, objective, *, alpha: float | None = None) -> DissipationCheck:
    r"""Check dE/dt = -||grad V||^2_{L^2(mu_t)} along a recorded noiseless gradient flow.

    .. math::

        \frac{d}{dt} E(\mu_t) = -\sum_i a_i \langle \nabla V(\theta_i), M \, P_{\theta_i} \nabla V(\theta_i) \rangle,
        \qquad E = J + \tfrac{\lambda_{wd}}{2} \int |\theta|^2 d\mu,

    where M is the flow's per-coordinate step multiplier (``eta_output``/``eta_inner``) and
    P the unit's tangent projection (identity except on constrained units); for plain GD
    this is -||grad V||^2_{L^2(mu_t)} [1, §11.2]. The finite difference of a GD run with
    step eta matches it up to O(eta) (the GD-vs-flow error), so use small steps and linearly
    spaced snapshots, e.g. ``FlowConfig(snapshot_spacing="linear", n_snapshots=steps + 1)``.

    Parameters
    ----------
    traj : a :class:`wgflow.Trajectory` of a full-batch, noiseless run.
    objective : the objective it was trained on (evaluated with ``value_and_grad`` at each snapshot).
    alpha : output scale (default: the trajectory's).

    Raises
    ------
    ValueError : the run was noisy (Langevin) or stochastic (minibatches): the identity
        then holds only in expectation with an extra entropy/variance term.
    """
    flow = getattr(traj, "meta", {}).get("flow", {})
    if flow.get("noise", 0.0):
        raise ValueError("energy_dissipation needs a noiseless run (FlowConfig.noise = 0)")
    if flow.get("batch_size") is not None or flow.get("batch_schedule"):
        raise ValueError("energy_dissipation needs full-batch gradients (FlowConfig.batch_size = None)")
    wd = float(flow.get("weight_decay", 0.0))
    alpha = _alpha(traj, alpha)
    _, times, _ = _arrays(traj)
    energies, rates = [], []
    for mu in _measures(traj):
        J, G = objective.value_and_grad(mu, alpha)
        theta, a = mu.theta, mu.a
        G = G + wd * theta  # gradient field of E
        M = torch.full((mu.p,), float(flow.get("eta_inner", 1.0)), dtype=theta.dtype)
        M[mu.unit.output_mask(theta)] = float(flow.get("eta_output", 1.0))
        vel = M * mu.unit.project_grad(theta, G)  # minus the particle velocity, (n, p)
        energies.append(J + 0.5 * wd * float((a * (theta * theta).sum(1)).sum()))
        rates.append(-float((a * (G * vel).sum(1)).sum()))
    energy, rate = np.array(energies), np.array(rates)
    dt = np.diff(times)
    if (dt <= 0).any():
        raise ValueError("snapshot times must be strictly increasing")
    return DissipationCheck(0.5 * (times[1:] + times[:-1]), energy, np.diff(energy) / dt, 0.5 * (rate[1:] + rate[:-1]))
