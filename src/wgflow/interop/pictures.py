"""Pictures of a recorded particle flow (a :class:`~wgflow.flows.trajectory.Trajectory`): the hidden units
|c| w in their principal plane, and the loss with the distance travelled from the start."""

from __future__ import annotations

import numpy as np

from ..flows.regime import relative_movement
from ..plotting.figures import _plt, particle_figure
from ..transport import w2_from_start

__all__ = ["particle_plane", "plot_particles", "plot_flow"]


def particle_plane(traj) -> np.ndarray:
    """Orthonormal basis (2, d) of the principal plane of the final units |c| w (SVD)."""
    s = np.asarray(traj.snapshots[-1], dtype=float)
    d = traj.final.unit.d
    pts = np.abs(s[:, :1]) * s[:, 1 : 1 + d]  # (n, d)
    if d == 1:
        return np.array([[1.0], [0.0]])
    _, _, vt = np.linalg.svd(pts - pts.mean(0), full_matrices=False)
    return vt[:2]


def plot_particles(traj, basis: np.ndarray | None = None, *, title: str | None = "hidden units |c| w", ax=None):
    """Particle trajectories |c| w in a plane (default: their principal plane); returns the figure."""
    basis = particle_plane(traj) if basis is None else basis
    return particle_figure(traj.snapshots, basis, title=title, ax=ax)


def plot_flow(traj, w2: np.ndarray | None = None):
    """Loss against step, and W2(mu_t, mu_0) with the relative movement against step; returns the figure."""
    plt = _plt()
    w2 = w2_from_start(traj) if w2 is None else w2  # (S,)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(traj.risk_steps, traj.risk, "-")
    ax[0].set(xlabel="step", ylabel="training loss", title="loss", yscale="log" if (traj.risk > 0).all() else "linear")
    ax[1].plot(traj.snapshot_steps, w2, "o-", ms=3, label="W2(mu_t, mu_0)")
    ax[1].plot(traj.snapshot_steps, relative_movement(traj), "s--", ms=3, label="|theta_t - theta_0| / |theta_0|")
    ax[1].set(xlabel="step", ylabel="distance from the start", title="distance travelled by the hidden units")
    ax[1].legend(fontsize=8)
    return fig
