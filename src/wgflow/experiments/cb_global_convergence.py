r"""cb-global-convergence: over-parameterised gradient flows reach the global minimum.

.. math::

    \partial_t \mu_t = \nabla_\theta \cdot (\mu_t \nabla_\theta V(\theta; \mu_t)),\qquad
    R(\mu) = \tfrac12 \mathbb{E}_{x \sim N(0, I_d)} |f^*(x) - f_\mu(x)|^2

(Chizat & Bach, NeurIPS 2018, Thm 3.3 and §4). A ReLU student of width m learns a ReLU teacher
of width m0 by gradient descent in mean-field time on the *exact* population risk (arc-cosine
closed form), so the only error is optimisation; the excess risk is R itself (the optimum is 0
for m >= m0). The theorem's condition: the initial particles lie on a sphere with full support
and both output signs (``unit.init(kind="sphere")``). The ablation violates it: all output weights
negative with |c| > |w| (c = -1, w = half of a sphere draw). For 2-homogeneous units gradient
flow conserves c_i^2 - |w_i|^2 (Chizat & Bach 2018, §2.4), so these units can never change sign
and the student cannot fit the positive teacher.

Claims: (1) at the largest width the excess risk falls below ``tol`` (1e-4) of its initial value
in every seed; (2) at m = m0 a measured fraction of seeds stalls above it (fraction > 0);
(3) at the largest width the violating initialisation stalls in every seed where the proper one
converged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..flows import FlowConfig, train
from ..measure import ParticleMeasure
from ..objectives import PopulationRisk
from ..plotting import particle_animation, particle_figure, plane_basis
from ..tasks.teacher import ReLUTeacher
from ..units import ReLU
from .base import ConfigError, Experiment, ExperimentResult, claim_ge, claim_le, claim_true, register
from .config import Choice, Domain, Float, Int, Ints


@dataclass(frozen=True)
class GlobalConvergenceConfig:
    """Defaults are the ``quick`` preset (about a minute on one core)."""

    d: int = 5  # input dimension
    m0: int = 3  # teacher width (c* = 1, |w*| = 1)
    widths: tuple = (3, 6, 12, 48)  # student widths m; the first should be m0, the last well over 10 m0
    seeds: int = 6  # independent (teacher, initialisation) draws per width
    eta: float = 1.0  # step in mean-field time
    steps: int = 2000  # gradient steps (horizon T = eta * steps)
    tol: float = 1e-4  # a run converged when R(mu_T) <= tol R(mu_0)
    n_snapshots: int = 40  # log-spaced snapshots for the particle picture and the animation
    animation: str = "gif"  # "gif" (Pillow) or "mp4" (needs ffmpeg)

    def validate(self) -> None:
        if min(self.widths) < 1 or self.m0 < 1 or self.d < 2 or self.seeds < 1 or self.steps < 1:
            raise ConfigError("d >= 2, m0, widths, seeds and steps must be positive")
        if not 0 < self.tol < 1:
            raise ConfigError(f"config key 'tol': must be in (0, 1), got {self.tol}")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(2), "m0": Int(1), "widths": Ints(1, min_len=2, increasing=True), "seeds": Int(1),
        "eta": Float(0, open_lo=True), "steps": Int(1), "tol": Float(0, 1, open_lo=True, open_hi=True),
        "n_snapshots": Int(2), "animation": Choice("gif", "mp4")}


def _init(kind: str, m: int, d: int, g: torch.Generator) -> torch.Tensor:
    """(m, d+1) particles: 'sphere' (theorem) or 'one_sign' (c = -1 > |w|: violates it)."""
    theta = ReLU(d).init(m, generator=g, dtype=torch.float64, kind="sphere")
    if kind == "one_sign":
        theta[:, 1:] *= 0.5
        theta[:, 0] = -1.0
    return theta


@register
class GlobalConvergence(Experiment):
    name = "cb-global-convergence"
    title = "Global convergence of over-parameterised ReLU networks (exact population risk)"
    reference = "Chizat & Bach, NeurIPS 2018, Thm 3.3 and §4"
    description = __doc__
    Config = GlobalConvergenceConfig
    presets = {"quick": {}, "full": {"d": 10, "m0": 5, "widths": (5, 10, 20, 50, 100, 200), "seeds": 20,
                                     "steps": 20000, "n_snapshots": 80}}

    def run(self, cfg: GlobalConvergenceConfig, ctx) -> ExperimentResult:
        flow = FlowConfig(eta=cfg.eta, steps=cfg.steps, n_snapshots=cfg.n_snapshots,
                          risk_every=max(1, cfg.steps // 100))

        def one(kind: str, m: int, s: int) -> dict:
            g = torch.Generator().manual_seed(1000 * ctx.seed + s)
            teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g)
            mu0 = ParticleMeasure(_init(kind, m, cfg.d, g), ReLU(cfg.d))
            traj = train(mu0, PopulationRisk(teacher), flow, seed=s, progress=ctx.progress,
                         checkpointer=ctx.checkpointer(f"{kind}-m{m}-s{s}"))
            return {"risk": traj.risk, "risk_times": traj.risk_times, "snapshots": traj.snapshots,
                    "snapshot_times": traj.snapshot_times, "teacher": teacher.measure.numpy()}

        runs = {(k, m, s): ctx.stage(f"{k}-m{m}-s{s}", lambda k=k, m=m, s=s: one(k, m, s))
                for k, ms in (("sphere", cfg.widths), ("one_sign", (max(cfg.widths),)))
                for m in ms for s in range(cfg.seeds)}
        ratio = {key: float(r["risk"][-1] / r["risk"][0]) for key, r in runs.items()}
        big, small = max(cfg.widths), min(cfg.widths)
        conv = {m: np.array([ratio["sphere", m, s] <= cfg.tol for s in range(cfg.seeds)]) for m in cfg.widths}
        worst_big = max(ratio["sphere", big, s] for s in range(cfg.seeds))
        stall_frac = {m: float(1 - conv[m].mean()) for m in cfg.widths}
        bad = np.array([ratio["one_sign", big, s] for s in range(cfg.seeds)])
        bad_stalls = float(np.mean(bad > cfg.tol))
        for m in cfg.widths:
            ctx.log(f"m = {m}: stalled fraction {stall_frac[m]:.2f}, "
                    f"median R_T/R_0 {np.median([ratio['sphere', m, s] for s in range(cfg.seeds)]):.2e}")

        claims = [
            claim_le("large_width_converges", f"at m = {big} (> 10 m0 = {10 * cfg.m0}) the excess risk falls below "
                     f"{cfg.tol:g} of its initial value in every seed: max_seeds R(mu_T)/R(mu_0)",
                     worst_big, cfg.tol),
            claim_true("m0_stalls", f"at m = {small} a fraction of seeds stalls above {cfg.tol:g} R(mu_0) "
                       f"(fraction of {cfg.seeds} seeds)", stall_frac[small], stall_frac[small] > 0,
                       expected="> 0"),
            claim_ge("violating_init_stalls", f"at m = {big} the one-sign initialisation (c = -1 > |w|, outside the "
                     "theorem) stalls where the sphere initialisation converges: fraction of its seeds above "
                     f"{cfg.tol:g} R(mu_0)", bad_stalls * float(conv[big].all()), 1.0),
        ]
        metrics = {f"stalled_fraction_m{m}": stall_frac[m] for m in cfg.widths}
        metrics.update({"max_ratio_large_m": worst_big, "min_ratio_violating": float(bad.min()),
                        "violating_stalled_fraction": bad_stalls})
        artifacts = {"risk": self._risk_figure(ctx, cfg, runs)}
        r0 = runs["sphere", big, 0]
        basis = plane_basis(r0["teacher"][:, 1:])
        fig = particle_figure(r0["snapshots"], basis, r0["teacher"],
                              title=f"m = {big}, sphere init (red c > 0, blue c < 0)")
        artifacts["particles"] = ctx.save_figure("cb_particles", fig)
        artifacts["particles_animation"] = ctx.save_figure(
            f"cb_particles.{cfg.animation}",
            particle_animation(r0["snapshots"], basis, r0["teacher"], times=r0["snapshot_times"], title=f"m = {big}"))
        rb = runs["one_sign", big, 0]
        artifacts["particles_violating"] = ctx.save_figure(
            "cb_particles_one_sign", particle_figure(rb["snapshots"], basis, rb["teacher"],
                                                     title=f"m = {big}, one-sign init (stalls)"))
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _risk_figure(ctx, cfg, runs) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 4))
        floor = 1e-16
        for i, m in enumerate(cfg.widths):
            for s in range(cfg.seeds):
                r = runs["sphere", m, s]
                ax.semilogy(r["risk_times"], np.maximum(r["risk"] / r["risk"][0], floor), color=f"C{i}", lw=0.8,
                            alpha=0.7, label=f"m = {m}" if s == 0 else None)
        for s in range(cfg.seeds):
            r = runs["one_sign", max(cfg.widths), s]
            ax.semilogy(r["risk_times"], r["risk"] / r["risk"][0], "k--", lw=0.8,
                        label=f"m = {max(cfg.widths)}, one-sign init" if s == 0 else None)
        ax.axhline(cfg.tol, color="0.5", lw=0.6)
        ax.set(xlabel="mean-field time t", ylabel="excess risk R(mu_t) / R(mu_0)", ylim=(1e-10, 2),
               title=f"ReLU teacher m0 = {cfg.m0}, d = {cfg.d}")
        ax.legend(fontsize=7)
        return ctx.save_figure("cb_excess_risk", fig)
