r"""teacher-student: a mean-field ReLU student learns a ReLU teacher by Wasserstein gradient flow.

.. math::

    \partial_t \mu_t = \nabla_\theta \cdot (\mu_t \nabla_\theta V(\theta; \mu_t)),
    \qquad R(\mu) = \tfrac12 \mathbb{E}_x |f^*(x) - f_\mu(x)|^2,\ x \sim N(0, I_d)

(Chizat & Bach, NeurIPS 2018, Thm 3.3). A two-layer ReLU network with n units in the mean-field
scaling (alpha = 1) is trained by gradient descent in mean-field time on the *exact* population risk
against a ReLU teacher f* = (1/m0) sum_j relu(w*_j . x); its particles start on a sphere (full
support, both output signs), the initialisation under which Chizat & Bach prove that a converging
flow reaches a global minimiser. ``seeds`` independent (teacher, initialisation) draws, trained as
one ensemble (:class:`~wgflow.flows.Ensemble`).

Claim (fails with training switched off, ``--untrained``):

``risk_drop``: log10(R(mu_0)/R(mu_T)) has a Student-t interval over the draws above
``risk_drop_orders`` (2). Null: the same statistic after the same steps of the random-features
model a skeptic offers instead, the same draws with the first layer frozen (only the output weights
c trained, ``eta_inner = 0``): a convex problem whose risk stops at the approximation error of its
n fixed features, where the flow of the measure can reach a zero-risk minimiser.

Metrics (no claims):

- ``teacher_ratio_*``: W2 between the sphere projections (Chizat-Bach h,
  :func:`wgflow.transport.projected_w2`) of the balanced student (:func:`balanced`) and the teacher
  at T, over the same at t = 0. Not a claim: the zero-risk minimisers are not unique (ReLU units
  without bias cannot see odd spherical harmonics of degree >= 3 of the measure), so the flow need
  only reach *a* minimiser, not the teacher's measure.
- ``dissipation_error``: ||dR/dt + ||grad V||^2||_2 / ||grad V||^2||_2 along a fine recording of
  the same flow (step ``check_eta``, a snapshot at every step over [0, ``check_T``]), the
  energy-dissipation identity dR/dt = -||grad V||^2_{L2(mu_t)} (Ambrosio, Gigli & Savaré 2008,
  §11.2). Not a claim: any correct gradient descent satisfies it, to h lambda_max / 2 <=
  check_eta / eta (GD with step h dissipates -h|G|^2 + (h^2/2) G.HG per step). The error at
  check_eta / 2 gives the observed order.
- ``w2_from_start``: W2(mu_T, mu_0), positive for any motion.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ...domains import Choice, Domain, Float, Int
from ...flows import Ensemble, FlowConfig, train
from ...harness import ConfigError, Experiment, ExperimentResult, Null, claim_ci_above, register
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import PopulationRisk
from ...plotting.figures import Caption
from ...stats import mean_ci, min_detectable_effect
from ...tasks.teacher import ReLUTeacher
from ...transport import energy_dissipation, projected_w2, tracked_w2, w2_from_start
from . import figures

SOURCE = "Chizat & Bach, NeurIPS 2018, Thm 3.3 (global convergence) and Fig. 2 (particles reach the teacher)"
NULL_RISK = "the same statistic after the same steps with the first layer frozen (random features, same draws)"


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
    risk_drop_orders: float = 2.0  # the claim: t interval of log10(R(mu_0) / R(mu_T)) above this
    seeds: int = 10  # independent (teacher, init) draws, one ensemble; the claim's t interval is over them
    check_eta: float = 0.05  # dissipation metric: step of the fine recording (error bound check_eta / eta)
    check_T: float = 5.0  # dissipation metric: horizon of the fine recording (a snapshot at every step)
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
        "seeds": Int(2),
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


def _orders(risk: np.ndarray) -> np.ndarray:
    """log10(R_0 / R_T) along the last axis of risk (..., K); a risk of exactly 0 counts as 1e-300."""
    return np.log10(risk[..., 0] / np.maximum(risk[..., -1], 1e-300))


def _draw(cfg: TeacherStudentConfig, unit: ReLU, seed: int) -> tuple[ReLUTeacher, torch.Tensor]:
    """A random teacher and the student's initial particles (n, d+1), both from one generator seeded ``seed``."""
    dtype = getattr(torch, cfg.dtype)
    g = torch.Generator().manual_seed(seed)
    teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g, dtype=dtype)
    theta0 = unit.init(cfg.n, generator=g, dtype=dtype, kind=cfg.init, c_scale=cfg.init_scale)  # (n, d+1)
    return teacher, theta0


def _ensemble_stage(cfg: TeacherStudentConfig, ctx, unit: ReLU, flow: FlowConfig, key: str) -> dict:
    """Every draw's flow under ``flow`` as one ensemble (member s: draw ctx.seed + 1000 s): the risk curves
    (draws, K), the balanced W2 to the teacher at every snapshot (draws, S), and the first draw's trajectory."""
    draws = [_draw(cfg, unit, ctx.seed + 1000 * s) for s in range(cfg.seeds)]  # s = 0: the single-seed draw
    trajs = train(
        Ensemble.stack([ParticleMeasure(theta0, unit) for _, theta0 in draws]),
        [PopulationRisk(teacher) for teacher, _ in draws],
        flow,
        seed=[ctx.seed + 1000 * s for s in range(cfg.seeds)],
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(key),
    )
    ctx.save_trajectory(f"trajectory_{key}", trajs[0])  # the first draw's flow: wgflow.interop.load_trajectory
    teachers = [teacher.measure.numpy() for teacher, _ in draws]  # (m0, d+1) each
    w2 = [[projected_w2(balanced(x), T, method="exact") for x in tr.snapshots] for tr, T in zip(trajs, teachers)]
    raw = [[projected_w2(tr.snapshots[i], T, method="exact") for i in (0, -1)] for tr, T in zip(trajs, teachers)]
    r0 = trajs[0]
    return {
        "risk": np.stack([tr.risk for tr in trajs]),  # (draws, K)
        "risk_times": r0.risk_times,
        "risk_steps": r0.risk_steps,
        "w2_teacher_all": np.array(w2),  # (draws, S)
        "w2_teacher_raw": np.array(raw),  # (draws, 2): unbalanced, at t = 0 and T
        "snapshots": r0.snapshots,  # (S, n, d+1), first draw
        "snapshot_times": r0.snapshot_times,
        "w2_teacher": np.array(w2[0]),  # (S,), first draw
        "final_theta": r0.final.numpy(),
        "teacher": teachers[0],
    }


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


@register
class TeacherStudent(Experiment):
    name = "teacher-student"
    title = "A mean-field ReLU student learns a ReLU teacher"
    reference = "Chizat & Bach, NeurIPS 2018 (global convergence of Wasserstein gradient flows)"
    description = __doc__
    Config = TeacherStudentConfig
    cost = 32  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    # full: d = 10, m0 = 5 over a horizon of 20000 steps, 10 draws. The (n, n) arc-cosine kernels are the cost
    # (quadratic in n): n = 256 (51 m0, far above the few multiples of m0 Chizat & Bach's Fig. 3 needs) keeps
    # the trained flows and their frozen-first-layer null within two hours of one core in float64
    presets = {"quick": {}, "full": {"d": 10, "m0": 5, "n": 256, "steps": 20000, "eta": 1.0, "n_snapshots": 40}}
    captions = {
        "teacher_student_particles": Caption(
            "Trajectories of the student's units |c| w in the teacher's plane (first draw), with the teacher's "
            "units (arrows)."
        ),
        "teacher_student_risk": Caption(
            "Along the flow (first draw): the population risk of the mean-field flow and of the same network "
            "with its first layer frozen, the distance travelled and the distance to the teacher's measure, "
            "and the energy dissipation dR/dt against |grad V|^2.",
            claims=("risk_drop",),
        ),
    }

    def run(self, cfg: TeacherStudentConfig, ctx) -> ExperimentResult:
        unit = ReLU(cfg.d)
        flow = FlowConfig(
            eta=cfg.eta, steps=cfg.steps, n_snapshots=cfg.n_snapshots, risk_every=max(1, cfg.steps // 200)
        )
        r = ctx.stage("flow", lambda: _ensemble_stage(cfg, ctx, unit, flow, "flow"))
        frozen = dataclasses.replace(flow, eta_inner=0.0)  # random features: only the output weights c move
        rf = ctx.stage("frozen", lambda: _ensemble_stage(cfg, ctx, unit, frozen, "frozen"))
        check = ctx.stage("dissipation", lambda: _dissipation(cfg, *_draw(cfg, unit, ctx.seed), unit))

        orders, orders_rf = _orders(np.asarray(r["risk"])), _orders(np.asarray(rf["risk"]))  # (draws,) each
        w2_all = np.asarray(r["w2_teacher_all"])  # (draws, S)
        ratio = w2_all[:, -1] / w2_all[:, 0]  # (draws,)
        o_ci, rf_ci, r_ci = mean_ci(orders), mean_ci(orders_rf), mean_ci(ratio)
        risk = np.asarray(r["risk"])[0]
        ctx.log(
            f"risk {risk[0]:.3e} -> {risk[-1]:.3e} in mean-field time {r['risk_times'][-1]:g} (first draw); "
            f"orders {o_ci}; first layer frozen {rf_ci}; W2 to teacher / initial {r_ci}; "
            f"dissipation error {check['err']:.2e}"
        )
        for k, v in zip(np.asarray(r["risk_steps"]), risk):  # the risk curve as a metric time series
            ctx.log_metric("risk", float(v), step=int(k))
        claim = claim_ci_above(
            "risk_drop",
            f"gradient flow lowers the population risk by more than {cfg.risk_drop_orders:g} orders of "
            f"magnitude: mean over {cfg.seeds} draws of log10(R(mu_0)/R(mu_T))",
            o_ci.mean,
            o_ci.ci,
            cfg.risk_drop_orders,
            source=SOURCE,
            null=Null(NULL_RISK, rf_ci.mean, rf_ci.ci),
            method="t-mean",
            power=f"interval width {o_ci.hi - o_ci.lo:.3g}; mean shifts >= "
            f"{min_detectable_effect(o_ci.se, o_ci.df):.3g} orders detectable",
            control=0.0,
            note="control: 0, the drop without training",
        )
        snaps = np.asarray(r["snapshots"])  # (S, n, d+1)
        w2 = w2_from_start((snaps, np.asarray(r["snapshot_times"])), method="exact")  # (S,)
        metrics = _metrics(r, check, snaps, w2, (o_ci, rf_ci, r_ci), ratio)
        r0 = {**r, "risk": risk}
        rf0 = {**rf, "risk": np.asarray(rf["risk"])[0]}
        artifacts = {
            "particles": figures.particles(ctx, r0),
            "risk": figures.risk(ctx, r0, rf0, w2, check, (o_ci.mean, rf_ci.mean)),
            "final_theta": ctx.save_array("final_theta", np.asarray(r["final_theta"])),
        }
        return ExperimentResult([claim], metrics, artifacts)


def _metrics(r: dict, check: dict, snaps: np.ndarray, w2: np.ndarray, cis: tuple, ratio: np.ndarray) -> dict:
    """The run's numbers that are not claims: risk levels, transport, the teacher ratio, dissipation."""
    o_ci, rf_ci, r_ci = cis
    risk, raw = np.asarray(r["risk"])[0], np.asarray(r["w2_teacher_raw"])
    return {
        "risk_initial": float(risk[0]),
        "risk_final": float(risk[-1]),
        "risk_drop_orders_mean": o_ci.mean,
        "risk_drop_orders_frozen_mean": rf_ci.mean,
        "w2_from_start": float(w2[-1]),
        "tracked_bound": float(tracked_w2(snaps[-1], snaps[0])),
        "teacher_ratio_mean": r_ci.mean,
        "teacher_ratio_lo": r_ci.lo,
        "teacher_ratio_hi": r_ci.hi,
        "teacher_ratio_max": float(ratio.max()),
        "teacher_ratio_unbalanced_mean": float((raw[:, 1] / raw[:, 0]).mean()),
        "dissipation_error": check["err"],
        "dissipation_error_half_step": check["err_half"],
        "dissipation_order": float(np.log2(check["err"] / check["err_half"])),
        "T": float(r["risk_times"][-1]),
    }
