r"""lazy-vs-active: the output scale tau moves a network between the active and the lazy (NTK) regime.

.. math::

    J_\tau(\theta) = \frac{1}{\tau^2} R(\tau f_\theta),\qquad
    f_{\mathrm{lin}}(x;\theta) = f(x;\theta^0) + \nabla_\theta f(x;\theta^0)\cdot(\theta - \theta^0)

(Chizat, Oyallon & Bach, NeurIPS 2019, §2 and Fig. 2). In mean-field time the function tau f moves at
speed O(1) whatever tau, so the parameters move O(1/tau): for large tau the network stays in the
neighbourhood of its initialisation where it equals its linearisation (lazy training), while
small tau lets the units move and align with the teacher (active training). A ReLU student
(width m, symmetrised initialisation so that f(theta^0) = 0, :func:`wgflow.linearized.symmetric_init`)
learns a ReLU teacher of width m0 = 3 from a finite training set with the square loss; its
linearisation (:class:`wgflow.linearized.Tangent`) is trained alongside by the same flow.

Step size: at small tau the velocity grad V = (1/tau) E[l'(tau f) grad phi] is O(1/tau) and the
Hessian of J_tau has an O(1/tau) part, so the stable step shrinks like tau; at large tau the
dynamics are the O(1) tangent-kernel dynamics. We use eta(tau) = min(eta_max, eta_scale * tau)
over the fixed mean-field horizon T (the source's eta = min(10, 0.1/tau^2) is the same rule in its
parametrisation of the update W <- W - (eta/tau) grad).

Claims: (1) the relative parameter movement |theta_T - theta_0| / |theta_0| decreases like 1/tau:
the log-log slope over tau >= ``tau_lazy`` is within ``slope_tol`` of -1; (2) at the largest tau the
network and its linearisation agree on test points (relative L2 difference <= ``agree_tol``);
(3) the active regime (smallest tau) reaches a lower test loss than the lazy one (largest tau).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..flows import FlowConfig, train
from ..linearized import Tangent, symmetric_init, tangent_theta
from ..measure import ParticleMeasure
from ..objectives import DatasetRisk
from ..plotting import particle_figure, plane_basis
from ..stats import loglog_slope
from ..tasks.teacher import ReLUTeacher
from ..units import ReLU
from .base import ConfigError, Experiment, ExperimentResult, claim_close, claim_le, register
from .config import Domain, Float, Floats, Int


@dataclass(frozen=True)
class LazyVsActiveConfig:
    """Defaults are the ``quick`` preset (under a minute on one core)."""

    d: int = 20  # input dimension, x ~ N(0, I_d)
    m0: int = 3  # teacher width
    m: int = 50  # student width (m/2 symmetric pairs)
    n_train: int = 200  # training points
    n_test: int = 1000  # test points
    log10_tau: tuple = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)  # tau = 10^these
    T: float = 20.0  # mean-field horizon (same for every tau)
    eta_max: float = 1.0  # step cap (lazy side)
    eta_scale: float = 0.5  # eta(tau) = min(eta_max, eta_scale * tau)
    tau_lazy: float = 1.0  # claim (1) fits the slope over tau >= this
    slope_tol: float = 0.15  # claim (1): |slope + 1| <= this
    agree_tol: float = 0.05  # claim (2): |tau f - tau f_lin| / |tau f_lin| on test points at the largest tau

    def validate(self) -> None:
        if self.m < 2 or self.m % 2:
            raise ConfigError(f"config key 'm': the symmetrised init needs an even width >= 2, got {self.m}")
        if len(self.log10_tau) < 3 or sum(10**t >= self.tau_lazy for t in self.log10_tau) < 2:
            raise ConfigError("log10_tau needs >= 3 values, two of them with tau >= tau_lazy")
        if not (self.T > 0 and self.eta_max > 0 and self.eta_scale > 0):
            raise ConfigError("T, eta_max and eta_scale must be positive")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1), "m0": Int(1), "m": Int(2), "n_train": Int(1), "n_test": Int(1),
        "log10_tau": Floats(-6, 6, min_len=3, increasing=True), "T": Float(0, open_lo=True),
        "eta_max": Float(0, open_lo=True), "eta_scale": Float(0, open_lo=True), "tau_lazy": Float(0, open_lo=True),
        "slope_tol": Float(0, open_lo=True), "agree_tol": Float(0, open_lo=True)}


@register
class LazyVsActive(Experiment):
    name = "lazy-vs-active"
    title = "Lazy (tangent) vs active training as the output scale tau varies"
    reference = "Chizat, Oyallon & Bach, NeurIPS 2019, §2 and Fig. 2"
    description = __doc__
    Config = LazyVsActiveConfig
    presets = {"quick": {}, "full": {"d": 100, "n_train": 1000, "n_test": 1000, "m": 50, "T": 50.0,
                                     "log10_tau": tuple(np.round(np.linspace(-2.2, 1.0, 9), 2).tolist())}}

    def run(self, cfg: LazyVsActiveConfig, ctx) -> ExperimentResult:
        g = torch.Generator().manual_seed(ctx.seed)
        teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g)
        x = torch.randn(cfg.n_train, cfg.d, generator=g, dtype=torch.float64)  # (n_train, d)
        xt = torch.randn(cfg.n_test, cfg.d, generator=g, dtype=torch.float64)  # (n_test, d)
        train_obj, test_obj = DatasetRisk(x, teacher(x)), DatasetRisk(xt, teacher(xt))
        unit = ReLU(cfg.d)
        theta0 = symmetric_init(unit.init(cfg.m // 2, generator=g, dtype=torch.float64))  # (m, d+1), f(theta0) = 0

        def one(tau: float) -> dict:
            eta = min(cfg.eta_max, cfg.eta_scale * tau)
            flow = FlowConfig(eta=eta, steps=int(np.ceil(cfg.T / eta)), alpha=tau, n_snapshots=30,
                              risk_every=max(1, int(np.ceil(cfg.T / eta)) // 50))
            net = train(ParticleMeasure(theta0, unit), train_obj, flow, progress=ctx.progress,
                        checkpointer=ctx.checkpointer(f"net-tau{tau:.4g}"))
            lin = train(ParticleMeasure(tangent_theta(theta0), Tangent(unit)), train_obj, flow, progress=ctx.progress,
                        checkpointer=ctx.checkpointer(f"lin-tau{tau:.4g}"))
            f, f_lin = net.final.output(xt, tau), lin.final.output(xt, tau)  # (n_test,)
            return {"test": test_obj.risk(net.final, tau), "test_lin": test_obj.risk(lin.final, tau),
                    "train": net.risk[-1], "train_lin": lin.risk[-1],
                    "move": float((net.final.theta - theta0).norm() / theta0.norm()),
                    "gap": float((f - f_lin).norm() / f_lin.norm().clamp_min(1e-300)),
                    "snapshots": net.snapshots}

        taus = [float(10.0**e) for e in cfg.log10_tau]
        runs = [ctx.stage(f"tau{t:.4g}", lambda t=t: one(t)) for t in taus]
        move = np.array([r["move"] for r in runs])
        gap = np.array([r["gap"] for r in runs])
        test = np.array([r["test"] for r in runs])
        test_lin = np.array([r["test_lin"] for r in runs])
        for t, r in zip(taus, runs):
            ctx.log(f"tau {t:.3g}: test {r['test']:.3e} (linearised {r['test_lin']:.3e}), movement {r['move']:.3e}, "
                    f"gap {r['gap']:.3e}")
        lazy = np.array(taus) >= cfg.tau_lazy
        slope, _ = loglog_slope(np.array(taus)[lazy], move[lazy])
        claims = [
            claim_close("movement_slope", f"relative parameter movement |theta_T - theta_0|/|theta_0| ~ tau^s over "
                        f"tau >= {cfg.tau_lazy:g}: fitted log-log slope s", slope, -1.0, cfg.slope_tol),
            claim_le("lazy_matches_linearisation", f"at tau = {taus[-1]:.3g} the trained network and its trained "
                     "linearisation agree on test points: |tau f - tau f_lin| / |tau f_lin|", gap[-1], cfg.agree_tol),
            claim_le("active_beats_lazy", f"the active regime (tau = {taus[0]:.3g}) reaches a lower test loss than the "
                     f"lazy one (tau = {taus[-1]:.3g}): test loss ratio active / lazy", test[0] / test[-1], 1.0),
        ]
        metrics = {"movement_slope": slope, "gap_largest_tau": float(gap[-1]),
                   "test_active": float(test[0]), "test_lazy": float(test[-1]),
                   **{f"test_tau{t:.3g}": float(v) for t, v in zip(taus, test)},
                   **{f"movement_tau{t:.3g}": float(v) for t, v in zip(taus, move)}}
        artifacts = {"curves": self._curves(ctx, taus, test, test_lin, move, gap)}
        basis = plane_basis(teacher.w.numpy())
        for tag, r, t in (("active", runs[0], taus[0]), ("lazy", runs[-1], taus[-1])):
            fig = particle_figure(r["snapshots"], basis, teacher.measure.numpy(),
                                  title=f"{tag}: tau = {t:.3g} (|c| w in the teacher plane)")
            artifacts[f"particles_{tag}"] = ctx.save_figure(f"lazy_active_particles_{tag}", fig)
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _curves(ctx, taus, test, test_lin, move, gap) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
        ax[0].loglog(taus, test, "o-", label="network")
        ax[0].loglog(taus, test_lin, "s--", label="linearised model")
        ax[0].set(xlabel="tau", ylabel="test loss", title="test loss after training")
        ax[0].legend(fontsize=8)
        ax[1].loglog(taus, move, "o-", label="|theta_T - theta_0| / |theta_0|")
        ax[1].loglog(taus, gap, "s--", label="|f - f_lin| / |f_lin| (test)")
        ax[1].loglog(taus, move[-1] * taus[-1] / np.array(taus), "k:", lw=0.8, label="1/tau")
        ax[1].set(xlabel="tau", title="parameter movement and distance to the linearisation")
        ax[1].legend(fontsize=8)
        return ctx.save_figure("lazy_active_curves", fig)
