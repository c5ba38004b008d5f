r"""teacher-student: a mean-field ReLU student learns a ReLU teacher by Wasserstein gradient flow.

.. math::

    \partial_t \mu_t = \nabla_\theta \cdot (\mu_t \nabla_\theta V(\theta; \mu_t)),
    \qquad R(\mu) = \tfrac12 \mathbb{E}_x |f^*(x) - f_\mu(x)|^2,\ x \sim N(0, I_d)

(Chizat & Bach, NeurIPS 2018, Thm 3.3; Mei, Montanari & Nguyen, PNAS 2018). A two-layer
ReLU network with n units in the mean-field scaling (alpha = 1) is trained by gradient
descent in mean-field time on the *exact* population risk against a ReLU teacher
f* = (1/m0) sum_j relu(w*_j . x); its particles start on a sphere (full support, both output
signs), the initialisation under which Chizat & Bach prove that a converging flow reaches
a global minimiser. Claims: the risk falls by orders of magnitude, and the particle measure
moves a measured, positive W2 distance from its start (exact optimal transport), below the
tracked-particle bound sqrt(mean_i |theta_i(T) - theta_i(0)|^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..flows import FlowConfig, train
from ..measure import ParticleMeasure
from ..objectives import PopulationRisk
from ..tasks.teacher import ReLUTeacher
from ..transport import tracked_w2, wasserstein
from ..units import ReLU
from .base import ConfigError, Experiment, ExperimentResult, claim_ge, claim_true, register
from .config import Choice, Domain, Float, Int


@dataclass(frozen=True)
class TeacherStudentConfig:
    """Defaults are the ``quick`` preset (a few seconds on one CPU core)."""

    d: int = 2  # input dimension (2: the teacher plane is the whole input space); theta = (c, w) in R^{d+1}
    m0: int = 3  # teacher width (units with c* = 1, |w*| = 1)
    n: int = 64  # student width = number of particles
    eta: float = 1.0  # step size in mean-field time
    steps: int = 1000  # gradient steps (horizon T = eta * steps)
    init: str = "sphere"  # "sphere": theta/|theta| uniform on S^d (Chizat-Bach); "gaussian"
    init_scale: float = 1.0  # radius of the initial sphere (c_scale of the init)
    n_snapshots: int = 20  # log-spaced particle snapshots (for W2 and the figure)
    risk_drop_orders: float = 2.0  # claim: log10(R(mu_0) / R(mu_T)) >= this
    dtype: str = "float64"  # float64 makes runs bit-reproducible (and resumable exactly) on CPU

    def validate(self) -> None:
        for key in ("d", "m0", "n", "steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key {key!r}: must be a positive integer, got {getattr(self, key)}")
        if not self.eta > 0:
            raise ConfigError(f"config key 'eta': must be > 0, got {self.eta}")
        if not self.init_scale > 0:
            raise ConfigError(f"config key 'init_scale': must be > 0, got {self.init_scale}")
        if self.n_snapshots < 2:
            raise ConfigError(f"config key 'n_snapshots': must be >= 2, got {self.n_snapshots}")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1), "m0": Int(1), "n": Int(1), "eta": Float(0, open_lo=True), "steps": Int(1),
        "init": Choice("sphere", "gaussian"), "init_scale": Float(0, open_lo=True), "n_snapshots": Int(2),
        "risk_drop_orders": Float(0), "dtype": Choice("float64", "float32")}


@register
class TeacherStudent(Experiment):
    name = "teacher-student"
    title = "A mean-field ReLU student learns a ReLU teacher"
    reference = "Chizat & Bach, NeurIPS 2018 (global convergence of Wasserstein gradient flows)"
    description = __doc__
    Config = TeacherStudentConfig
    presets = {"quick": {}, "full": {"d": 10, "m0": 5, "n": 1000, "steps": 20000, "eta": 1.0, "n_snapshots": 40}}

    def run(self, cfg: TeacherStudentConfig, ctx) -> ExperimentResult:
        dtype = getattr(torch, cfg.dtype)
        g = torch.Generator().manual_seed(ctx.seed)
        teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g, dtype=dtype)
        unit = ReLU(cfg.d)
        theta0 = unit.init(cfg.n, generator=g, dtype=dtype, kind=cfg.init, c_scale=cfg.init_scale)  # (n, d+1)
        obj = PopulationRisk(teacher)
        flow = FlowConfig(eta=cfg.eta, steps=cfg.steps, n_snapshots=cfg.n_snapshots,
                          risk_every=max(1, cfg.steps // 200))

        def flow_stage() -> dict:
            traj = train(ParticleMeasure(theta0, unit), obj, flow, seed=ctx.seed, progress=ctx.progress,
                         checkpointer=ctx.checkpointer("flow"))
            return {"snapshots": traj.snapshots, "snapshot_times": traj.snapshot_times, "risk": traj.risk,
                    "risk_times": traj.risk_times, "risk_steps": traj.risk_steps, "final_theta": traj.final.numpy()}

        tr = ctx.stage("flow", flow_stage)
        snaps = np.asarray(tr["snapshots"])  # (S, n, d+1)
        risk = np.asarray(tr["risk"])  # (T,)
        ctx.log(f"risk {risk[0]:.3e} -> {risk[-1]:.3e} in mean-field time {tr['risk_times'][-1]:g}")

        # W2 along the flow: exact OT between the snapshot and the start (n <= a few thousand)
        w2_curve = np.array([wasserstein(s, snaps[0], method="exact" if cfg.n <= 2000 else "auto")
                             for s in snaps])  # (S,)
        w2 = float(w2_curve[-1])
        bound = float(tracked_w2(snaps[-1], snaps[0]))
        orders = float(np.log10(risk[0] / risk[-1]))
        for k, r in zip(np.asarray(tr["risk_steps"]), risk):  # the risk curve as a metric time series
            ctx.log_metric("risk", float(r), step=int(k))
        claims = [
            claim_ge("risk_drop", f"gradient flow lowers the population risk by at least "
                     f"{cfg.risk_drop_orders:g} orders of magnitude: log10(R(mu_0)/R(mu_T))", orders,
                     cfg.risk_drop_orders),
            claim_true("measure_moved", "the particle measure moved a positive distance W2(mu_T, mu_0) "
                       "(exact optimal transport)", w2, w2 > 1e-6 * max(1.0, bound), expected="> 0"),
            claim_true("tracked_bound", "the tracked-particle coupling bounds W2 from above: "
                       "W2(mu_T, mu_0) <= sqrt(mean_i |theta_i(T) - theta_i(0)|^2)", bound - w2,
                       w2 <= bound * (1 + 1e-9) + 1e-12, expected="bound - W2 >= 0"),
        ]
        metrics = {"risk_initial": float(risk[0]), "risk_final": float(risk[-1]), "risk_drop_orders": orders,
                   "w2_from_start": w2, "tracked_bound": bound, "T": float(tr["risk_times"][-1])}
        teacher_theta = teacher.measure.numpy()  # (m0, d+1)
        artifacts = {
            "particles": self._particles_figure(ctx, snaps, teacher_theta),
            "risk": self._risk_figure(ctx, tr["risk_times"], risk, tr["snapshot_times"], w2_curve),
            "final_theta": ctx.save_array("final_theta", np.asarray(tr["final_theta"])),
        }
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _plane(teacher_theta: np.ndarray) -> np.ndarray:
        """Orthonormal basis (2, d) of the plane of the first two teacher directions."""
        w = teacher_theta[:, 1:]
        if w.shape[0] < 2:
            w = np.vstack([w, np.eye(w.shape[1])[:1]])
        q, _ = np.linalg.qr(w[:2].T)  # (d, 2)
        return q.T

    def _particles_figure(self, ctx, snaps: np.ndarray, teacher_theta: np.ndarray) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        P = self._plane(teacher_theta)  # (2, d)
        # 2-homogeneous units act through |c| w (Chizat-Bach): draw each unit there, projected on the plane
        pos = np.abs(snaps[..., :1]) * snaps[..., 1:] @ P.T  # (S, n, 2)
        sign = np.sign(snaps[-1, :, 0])
        fig, ax = plt.subplots(figsize=(5, 5))
        for i in range(pos.shape[1]):
            ax.plot(pos[:, i, 0], pos[:, i, 1], "-", lw=0.7, alpha=0.6, color="C3" if sign[i] > 0 else "C0")
        ax.scatter(pos[-1, :, 0], pos[-1, :, 1], s=8, c=np.where(sign > 0, "C3", "C0"), zorder=3)
        tpos = np.abs(teacher_theta[:, :1]) * teacher_theta[:, 1:] @ P.T  # (m0, 2)
        lim = 1.1 * np.abs(pos[-1]).max()
        for j, (x, y) in enumerate(tpos / np.linalg.norm(tpos, axis=1, keepdims=True)):
            ax.plot([0, lim * x], [0, lim * y], "k--", lw=0.8, label="teacher directions" if j == 0 else None)
        ax.scatter(tpos[:, 0], tpos[:, 1], marker="*", s=160, c="k", zorder=4, label="teacher units |c*| w*")
        ax.set(xlabel="|c| w on teacher direction 1", ylabel="|c| w on teacher direction 2",
               title="particle trajectories (red c > 0, blue c < 0)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="best", fontsize=8)
        return ctx.save_figure("teacher_student_particles", fig)

    @staticmethod
    def _risk_figure(ctx, risk_times, risk, snap_times, w2_curve) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
        ax[0].semilogy(risk_times, risk, "-")
        ax[0].set(xlabel="mean-field time t", ylabel="population risk R(mu_t)", title="risk")
        ax[1].plot(snap_times, w2_curve, "o-", ms=3)
        ax[1].set(xlabel="mean-field time t", ylabel="W2(mu_t, mu_0)", title="distance travelled (exact OT)")
        return ctx.save_figure("teacher_student_risk", fig)
