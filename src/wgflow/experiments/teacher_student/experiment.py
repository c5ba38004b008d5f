r"""teacher-student: a mean-field ReLU student learns a ReLU teacher by Wasserstein gradient flow.

.. math::

    \partial_t \mu_t = \nabla_\theta \cdot (\mu_t \nabla_\theta V(\theta; \mu_t)),
    \qquad R(\mu) = \tfrac12 \mathbb{E}_x |f^*(x) - f_\mu(x)|^2,\ x \sim N(0, I_d),
    \qquad \frac{d}{dt} R(\mu_t) = -\|\nabla V\|^2_{L^2(\mu_t)}

(Chizat & Bach, NeurIPS 2018, Thm 3.3; Ambrosio, Gigli & Savaré 2008, §11.2). A two-layer ReLU
network with n units in the mean-field scaling (alpha = 1) is trained by gradient descent in
mean-field time on the *exact* population risk against a ReLU teacher
f* = (1/m0) sum_j relu(w*_j . x); its particles start on a sphere (full support, both output signs),
the initialisation under which Chizat & Bach prove that a converging flow reaches a global
minimiser. ``seeds`` independent (teacher, initialisation) draws; claims are judged on the
bootstrap CI over them.

Claims (each fails with training switched off, ``--untrained``):

1. ``risk_drop``: log10(R(mu_0)/R(mu_T)) has a CI above ``risk_drop_orders`` (2). Control: 0.
2. ``teacher_measure_close``: the network's measure reaches the teacher's. A unit (c, w) acts
   through c|w| relu(w/|w| . x), so it is first lifted to its *balanced* representative
   (sign(c) r, r w/|w|), r = sqrt(|c||w|) (the teacher's units, c* = |w*| = 1, are balanced), then
   projected on the sphere (Chizat-Bach h, :func:`wgflow.transport.projected_w2`). The ratio
   W2(h(mu_T), h(teacher)) / W2(h(mu_0), h(teacher)) must have a CI below ``teacher_ratio`` = 1/2.
   Why 1/2, a priori: if a fraction q of the mass sits on the teacher's atoms and the rest stays
   about as far as at the start, the ratio is sqrt(1 - q); 1/2 means q >= 3/4, "most of the mass
   went to the teacher's units". It cannot tend to 0 in general: ReLU units without bias cannot
   see odd spherical harmonics of degree >= 3 of the measure, so the zero-risk minimisers are not
   unique and the flow need only reach *a* minimiser. Control: the ratio at t = 0 (1).
3. ``energy_dissipation``: along a fine recording of the same flow (step ``check_eta``, a snapshot
   at every step over [0, ``check_T``]), ||dR/dt + ||grad V||^2||_2 / ||grad V||^2||_2 <=
   check_eta / eta. Why: GD with step h dissipates -h|G|^2 + (h^2/2) G.HG per step, the flow's
   trapezoid rule -h|G|^2 + h^2 G.HG, a relative gap h G.HG / (2|G|^2) <= h lambda_max / 2, and the
   main run is stable at step eta (lambda_max <= 2/eta). The error at check_eta/2 gives
   the observed order (1 for GD vs flow) as a metric. Control (untrained): relative error 1.

The distance travelled, W2(mu_T, mu_0), is reported as the metric ``w2_from_start``: it is positive for any
motion, so it is no claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ...domains import Choice, Domain, Float, Int
from ...flows import FlowConfig, train
from ...harness import (
    ConfigError,
    Experiment,
    ExperimentResult,
    claim_ci_above,
    claim_ci_below,
    claim_le,
    register,
)
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import PopulationRisk
from ...plotting.figures import COLORS, LINESTYLES, Caption, _plt, particle_figure, plane_basis
from ...stats import mean_ci
from ...tasks.teacher import ReLUTeacher
from ...transport import energy_dissipation, projected_w2, tracked_w2, w2_from_start

SOURCE = "Chizat & Bach, NeurIPS 2018, Thm 3.3 (global convergence) and Fig. 2 (particles reach the teacher)"
SOURCE_EDI = "Ambrosio, Gigli & Savaré 2008, §11.2 (energy dissipation dR/dt = -|grad V|^2 of a gradient flow)"


@dataclass(frozen=True)
class TeacherStudentConfig:
    """Defaults are the ``quick`` preset."""

    d: int = 2  # input dimension (2: the teacher plane is the whole input space); theta = (c, w) in R^{d+1}
    m0: int = 3  # teacher width (units with c* = 1, |w*| = 1)
    n: int = 64  # student width = number of particles
    eta: float = 1.0  # step size in mean-field time
    steps: int = 1000  # gradient steps (horizon T = eta * steps)
    init: str = "sphere"  # "sphere": theta/|theta| uniform on S^d (Chizat-Bach); "gaussian"
    init_scale: float = 1.0  # radius of the initial sphere (c_scale of the init)
    n_snapshots: int = 20  # log-spaced particle snapshots (for W2 and the figure)
    risk_drop_orders: float = 2.0  # claim 1: CI of log10(R(mu_0) / R(mu_T)) above this
    seeds: int = 5  # independent (teacher, init) draws; claims judged on the bootstrap CI over them
    teacher_ratio: float = 0.5  # claim 2: CI of W2(h(mu_T), h(teacher)) / W2(h(mu_0), h(teacher)) below this
    check_eta: float = 0.05  # claim 3: step of the fine recording; tolerance check_eta / eta
    check_T: float = 5.0  # claim 3: horizon of the fine recording (a snapshot at every step)
    dtype: str = "float64"  # float64 makes runs bit-reproducible (and resumable exactly) on CPU

    def validate(self) -> None:
        if self.check_eta >= self.eta:
            raise ConfigError(
                f"config keys 'check_eta' and 'eta': check_eta must be below eta, got "
                f"check_eta = {self.check_eta} >= eta = {self.eta}"
            )
        if self.check_T < 2 * self.check_eta:
            raise ConfigError(
                f"config keys 'check_T' and 'check_eta': check_T must cover at least two steps of "
                f"check_eta, got check_T = {self.check_T}"
            )

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "m0": Int(1),
        "n": Int(1),
        "eta": Float(0, open_lo=True),
        "steps": Int(1),
        "init": Choice("sphere", "gaussian"),
        "init_scale": Float(0, open_lo=True),
        "n_snapshots": Int(2),
        "risk_drop_orders": Float(0),
        "dtype": Choice("float64", "float32"),
        "seeds": Int(1),
        "teacher_ratio": Float(0, open_lo=True),
        "check_eta": Float(0, open_lo=True),
        "check_T": Float(0, open_lo=True),
    }


def balanced(theta: np.ndarray) -> np.ndarray:
    r"""Balanced representative of 2-homogeneous ReLU units, (n, 1+d) -> (n, 1+d).

    .. math::

        (c, w) \mapsto (\operatorname{sign}(c)\, r,\ r\, w/|w|), \qquad r = \sqrt{|c|\,|w|}

    The unit c relu(w.x) is unchanged (it depends on c|w| and w/|w| only), and |c| = |w| afterwards,
    so units computing the same function get the same point (Chizat & Bach 2018, §2.4: the
    rescaling (c/lambda, lambda w) is a symmetry).
    """
    c, w = theta[:, :1], theta[:, 1:]  # (n, 1), (n, d)
    norm = np.linalg.norm(w, axis=1, keepdims=True)  # (n, 1)
    r = np.sqrt(np.abs(c) * norm)
    return np.hstack([np.sign(c) * r, r * w / np.maximum(norm, np.finfo(float).tiny)])


def _orders(risk: np.ndarray) -> float:
    """log10(R_0 / R_T); a risk of exactly 0 counts as 1e-300 (no division by zero)."""
    return float(np.log10(risk[0] / max(risk[-1], 1e-300)))


def _draw(cfg: TeacherStudentConfig, unit: ReLU, seed: int) -> tuple[ReLUTeacher, torch.Tensor]:
    """A random teacher and the student's initial particles (n, d+1), both from one generator seeded ``seed``."""
    dtype = getattr(torch, cfg.dtype)
    g = torch.Generator().manual_seed(seed)
    teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g, dtype=dtype)
    theta0 = unit.init(cfg.n, generator=g, dtype=dtype, kind=cfg.init, c_scale=cfg.init_scale)  # (n, d+1)
    return teacher, theta0


def _flow_stage(cfg: TeacherStudentConfig, ctx, unit: ReLU, flow: FlowConfig, s: int) -> dict:
    """Seed s's flow from its own draw: snapshots, risk curve and the balanced W2 to the teacher."""
    teacher, theta0 = _draw(cfg, unit, ctx.seed + 1000 * s)  # s = 0 keeps the single-seed run's draw
    key = "flow" if s == 0 else f"flow-s{s}"
    traj = train(
        ParticleMeasure(theta0, unit),
        PopulationRisk(teacher),
        flow,
        seed=ctx.seed + 1000 * s,
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(key),
    )
    T = teacher.measure.numpy()  # (m0, d+1)
    to_teacher = [projected_w2(balanced(x), T, method="exact") for x in traj.snapshots]  # (S,)
    return {
        "snapshots": traj.snapshots,
        "snapshot_times": traj.snapshot_times,
        "risk": traj.risk,
        "risk_times": traj.risk_times,
        "risk_steps": traj.risk_steps,
        "final_theta": traj.final.numpy(),
        "teacher": T,
        "w2_teacher": np.array(to_teacher),
        "w2_teacher_raw": np.array([projected_w2(traj.snapshots[i], T, method="exact") for i in (0, -1)]),
    }


@register
class TeacherStudent(Experiment):
    name = "teacher-student"
    title = "A mean-field ReLU student learns a ReLU teacher"
    reference = "Chizat & Bach, NeurIPS 2018 (global convergence of Wasserstein gradient flows)"
    description = __doc__
    Config = TeacherStudentConfig
    presets = {"quick": {}, "full": {"d": 10, "m0": 5, "n": 1000, "steps": 20000, "eta": 1.0, "n_snapshots": 40}}
    captions = {
        "teacher_student_particles": Caption(
            "Trajectories of the student's units |c| w in the teacher's plane (first seed): they gather on "
            "the teacher's units (arrows).",
            claims=("teacher_measure_close",),
        ),
        "teacher_student_risk": Caption(
            "Along the flow the population risk falls by orders of magnitude, the measure moves towards the "
            "teacher's, and the risk decreases at the rate |grad V|^2 of a Wasserstein gradient flow.",
            claims=("risk_drop", "energy_dissipation"),
        ),
    }

    def run(self, cfg: TeacherStudentConfig, ctx) -> ExperimentResult:
        unit = ReLU(cfg.d)
        flow = FlowConfig(
            eta=cfg.eta, steps=cfg.steps, n_snapshots=cfg.n_snapshots, risk_every=max(1, cfg.steps // 200)
        )

        runs = [
            ctx.stage("flow" if s == 0 else f"flow-s{s}", lambda s=s: _flow_stage(cfg, ctx, unit, flow, s))
            for s in range(cfg.seeds)
        ]

        check = ctx.stage("dissipation", lambda: self._dissipation(cfg, *_draw(cfg, unit, ctx.seed), unit))

        orders = np.array([_orders(np.asarray(r["risk"])) for r in runs])  # (seeds,)
        ratio = np.array([r["w2_teacher"][-1] / r["w2_teacher"][0] for r in runs])  # (seeds,)
        raw = np.array([r["w2_teacher_raw"][1] / r["w2_teacher_raw"][0] for r in runs])
        o_ci, r_ci = mean_ci(orders, seed=ctx.seed), mean_ci(ratio, seed=ctx.seed)
        r0 = runs[0]
        snaps, risk = np.asarray(r0["snapshots"]), np.asarray(r0["risk"])  # (S, n, d+1), (K,)
        ctx.log(
            f"risk {risk[0]:.3e} -> {risk[-1]:.3e} in mean-field time {r0['risk_times'][-1]:g}; "
            f"orders {o_ci}; W2 to teacher / initial {r_ci}; dissipation error {check['err']:.2e}"
        )
        for k, r in zip(np.asarray(r0["risk_steps"]), risk):  # the risk curve as a metric time series
            ctx.log_metric("risk", float(r), step=int(k))
        claims = self._claims(cfg, o_ci, r_ci, raw, check)
        w2 = w2_from_start((snaps, np.asarray(r0["snapshot_times"])), method="exact")  # (S,)
        metrics = {
            "risk_initial": float(risk[0]),
            "risk_final": float(risk[-1]),
            "risk_drop_orders": float(orders[0]),
            "risk_drop_orders_mean": o_ci.mean,
            "w2_from_start": float(w2[-1]),
            "tracked_bound": float(tracked_w2(snaps[-1], snaps[0])),
            "teacher_ratio_mean": r_ci.mean,
            "teacher_ratio_max": float(ratio.max()),
            "teacher_ratio_unbalanced_mean": float(raw.mean()),
            "dissipation_error": check["err"],
            "dissipation_error_half_step": check["err_half"],
            "T": float(r0["risk_times"][-1]),
        }
        basis = plane_basis(np.asarray(r0["teacher"])[:, 1:])
        fig = particle_figure(snaps, basis, np.asarray(r0["teacher"]), title=self._particle_title(r0))
        artifacts = {
            "particles": ctx.save_figure("teacher_student_particles", fig),
            "risk": self._risk_figure(ctx, r0, w2, check),
            "final_theta": ctx.save_array("final_theta", np.asarray(r0["final_theta"])),
        }
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _dissipation(cfg: TeacherStudentConfig, teacher, theta0, unit) -> dict:
        """Relative error of the energy-dissipation identity on fine recordings at check_eta and check_eta / 2."""
        out: dict[str, Any] = {}
        for key, h in (("err", cfg.check_eta), ("err_half", cfg.check_eta / 2)):
            steps = round(cfg.check_T / h)
            fine = FlowConfig(eta=h, steps=steps, snapshot_spacing="linear", n_snapshots=steps + 1, risk_every=steps)
            obj = PopulationRisk(teacher)
            check = energy_dissipation(train(ParticleMeasure(theta0, unit), obj, fine), obj)
            out[key] = check.rel_error
            if key == "err":
                out.update(times=check.times, dRdt=check.dEdt, rate=check.rate)
        return out

    @staticmethod
    def _claims(cfg: TeacherStudentConfig, o_ci, r_ci, raw: np.ndarray, check: dict) -> list:
        """The three claims from the seeds' risk drops, teacher ratios and the dissipation check."""
        tol = cfg.check_eta / cfg.eta
        return [
            claim_ci_above(
                "risk_drop",
                f"gradient flow lowers the population risk by more than "
                f"{cfg.risk_drop_orders:g} orders of magnitude: mean over {cfg.seeds} seeds of "
                "log10(R(mu_0)/R(mu_T))",
                o_ci.mean,
                o_ci.ci,
                cfg.risk_drop_orders,
                source=SOURCE,
                control=0.0,
            ),
            claim_ci_below(
                "teacher_measure_close",
                "the student's measure reaches the teacher's: W2 between the "
                "sphere projections (balanced units) of student and teacher at T over the same at t = 0, "
                f"mean over {cfg.seeds} seeds (1/2: at least 3/4 of the mass on the teacher's units)",
                r_ci.mean,
                r_ci.ci,
                cfg.teacher_ratio,
                source=SOURCE,
                control=1.0,
                note=f"unbalanced projection gives {raw.mean():.3f}; zero-risk minimisers are not unique "
                "(ReLU units without bias miss odd harmonics >= 3): the flow may stop at another one",
            ),
            claim_le(
                "energy_dissipation",
                f"dR/dt = -|grad V|^2_L2(mu_t) along the flow recorded at step "
                f"{cfg.check_eta:g} over [0, {cfg.check_T:g}]: relative L2 error (bound h lambda_max/2 <= "
                "check_eta/eta)",
                check["err"],
                tol,
                source=SOURCE_EDI,
                control=1.0,
                note=f"error at half the step {check['err_half']:.3g} (observed order "
                f"{np.log2(check['err'] / check['err_half']):.2f}; 1 for smooth V, less once a unit "
                "sits at the relu cusp w = 0)",
            ),
        ]

    @staticmethod
    def _particle_title(r0) -> str:
        ratio = r0["w2_teacher"][-1] / r0["w2_teacher"][0]
        return f"$W_2$ to the teacher's units: {ratio:.2f} of its start (seed shown)"

    @staticmethod
    def _risk_figure(ctx, r0, w2_curve, check) -> str:
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
        t, tr = r0["risk_times"], "mean-field time $t$"
        ax[0].semilogy(t, r0["risk"], color=COLORS["trained"])
        ax[0].set(xlabel=tr, ylabel=r"population risk $R(\mu_t)$", title="risk")
        ax[1].plot(r0["snapshot_times"], w2_curve, "o-", ms=3, color=COLORS["trained"], label=r"$W_2(\mu_t, \mu_0)$")
        ax[1].plot(
            r0["snapshot_times"],
            r0["w2_teacher"],
            "s-",
            ms=3,
            color=COLORS["reference"],
            label=r"$W_2(h(\mu_t), h(\mathrm{teacher}))$",
        )
        ax[1].set(xscale="symlog", xlabel=tr, ylabel="$W_2$", title="distance travelled / to the teacher")
        ax[1].legend()
        ax[2].plot(
            check["times"], -np.asarray(check["dRdt"]), color=COLORS["trained"], label="$-dR/dt$ (finite difference)"
        )
        ax[2].plot(
            check["times"],
            -np.asarray(check["rate"]),
            LINESTYLES["theory"],
            color=COLORS["theory"],
            label=r"$\|\nabla V\|^2_{L^2(\mu_t)}$",
        )
        ax[2].set(xlabel=tr, ylabel="dissipation rate", yscale="log", title="energy dissipation")
        ax[2].legend()
        orders = _orders(np.asarray(r0["risk"]))
        fig.suptitle(
            f"$\\log_{{10}} R_0/R_T$ = {orders:.2g} (seed shown); $dR/dt = -\\|\\nabla V\\|^2$ to a relative {check['err']:.1g}"
        )
        return ctx.save_figure("teacher_student_risk", fig)
