r"""lazy-vs-active: the output scale tau moves a network between the active and the lazy (NTK) regime.

.. math::

    J_\tau(\theta) = \frac{1}{\tau^2} R(\tau f_\theta),\qquad
    f_{\mathrm{lin}}(x;\theta) = f(x;\theta^0) + \nabla_\theta f(x;\theta^0)\cdot(\theta - \theta^0)

(Chizat, Oyallon & Bach, NeurIPS 2019, §2 and Fig. 2). In mean-field time the function tau f moves at
speed O(1) whatever tau, so the parameters move O(1/tau): for large tau the network stays in the
neighbourhood of its initialisation where it equals its linearisation (lazy training), while
small tau lets the units move and align with the teacher (active training). A ReLU student
(width m, symmetrised initialisation so that f(theta^0) = 0, :func:`wgflow.measures.linearized.symmetric_init`)
learns a ReLU teacher of width m0 = 3 from a finite training set with the square loss; its
linearisation (:class:`wgflow.measures.linearized.Tangent`) is trained alongside by the same flow.

Step size: at small tau the velocity grad V = (1/tau) E[l'(tau f) grad phi] is O(1/tau) and the
Hessian of J_tau has an O(1/tau) part, so the stable step shrinks like tau; at large tau the
dynamics are the O(1) tangent-kernel dynamics. We use eta(tau) = min(eta_max, eta_scale * tau)
over the fixed mean-field horizon T (the source's eta = min(10, 0.1/tau^2) is the same rule in its
parametrisation of the update W <- W - (eta/tau) grad).

Claims (each fails with training switched off, ``--untrained``; ``seeds`` independent draws of
teacher, data and initialisation, judged on bootstrap CIs over them):

1. ``movement_slope`` (and ``movement_slope_asymptotic``, over tau >= ``tau_asymptotic`` = 3 only,
   where the movement is closer to its lazy asymptote; both are reported): the relative parameter movement |theta_T - theta_0| / |theta_0| ~ tau^s over
   tau >= ``tau_lazy``; the 95% bootstrap CI of s (:func:`wgflow.stats.fit_power_law`, seeds
   resampled at each tau) must contain -1. Control: the same slope for the trained linearisation,
   which is -1 exactly once eta(tau) is constant (its dynamics in u = tau (theta - theta_0) do not
   depend on tau). A movement of 0 (untrained) gives no fit: nan, fails.
2. ``lazy_matches_linearisation``: at the largest tau the network and its linearisation agree on test
   points, |tau f - tau f_lin| / |tau f_lin| (nan if f_lin did not move); CI of the mean below
   ``agree_tol``. Control: the same gap at the smallest tau (active regime).
3. ``active_beats_lazy``: test loss ratio active (smallest tau) / lazy (largest tau); CI of the mean
   below 1. Control: 1 (no training: both networks output f(theta_0) = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch

from ...domains import Domain, Float, Floats, Int
from ...flows import FlowConfig, train
from ...harness import (
    ConfigError,
    Experiment,
    ExperimentResult,
    claim_ci_below,
    claim_ci_contains,
    register,
)
from ...measures.linearized import Tangent, symmetric_init, tangent_theta
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import DatasetRisk
from ...plotting.figures import COLORS, LINESTYLES, Caption, _plt, particle_figure, plane_basis
from ...stats import fit_power_law_or_nan, mean_ci
from ...tasks.teacher import ReLUTeacher


@dataclass(frozen=True)
class LazyVsActiveConfig:
    """Defaults are the ``quick`` preset."""

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
    tau_asymptotic: float = 3.0  # variant of claim (1), added after its tau >= 1 CI excluded -1: tau >= this
    slope_tol: float = 0.15  # the pre-issue-14 rule |s + 1| <= this on one seed, kept as a metric
    agree_tol: float = 0.05  # claim (2): |tau f - tau f_lin| / |tau f_lin| on test points at the largest tau
    seeds: int = 5  # independent (teacher, data, init) draws; claims are judged on bootstrap CIs over them

    def validate(self) -> None:
        if self.m % 2:
            raise ConfigError(f"config key 'm': the symmetrised init needs an even width, got {self.m}")
        for key in ("tau_lazy", "tau_asymptotic"):
            if sum(10**t >= getattr(self, key) for t in self.log10_tau) < 2:
                raise ConfigError(f"log10_tau needs two values with tau >= {key}")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "m0": Int(1),
        "m": Int(2),
        "n_train": Int(1),
        "n_test": Int(1),
        "log10_tau": Floats(-6, 6, min_len=3, increasing=True),
        "T": Float(0, open_lo=True),
        "eta_max": Float(0, open_lo=True),
        "eta_scale": Float(0, open_lo=True),
        "tau_lazy": Float(0, open_lo=True),
        "tau_asymptotic": Float(0, open_lo=True),
        "slope_tol": Float(0, open_lo=True),
        "agree_tol": Float(0, open_lo=True),
        "seeds": Int(1),
    }


def _slope(taus: np.ndarray, move: np.ndarray, seed: int) -> tuple[float, tuple[float, float]]:
    """Log-log slope of move (seeds, taus) against tau with its bootstrap CI; nan if a movement is 0 (no fit)."""
    fit = fit_power_law_or_nan(np.broadcast_to(taus, move.shape), move, seed=seed)
    return fit.slope, (fit.lo, fit.hi)


class _Fits(NamedTuple):
    """Movement-vs-tau slopes: each (slope, CI) fit, the local slopes of the mean and seed 0's slope."""

    slope: tuple[float, tuple[float, float]]  # over tau >= tau_lazy
    linearised: tuple[float, tuple[float, float]]  # the same for the trained linearisation (the control)
    asymptotic: tuple[float, tuple[float, float]]  # over tau >= tau_asymptotic
    local: np.ndarray  # (taus - 1,)
    lazy: np.ndarray  # (taus,) tau >= tau_lazy
    seed0: float


def _fits(cfg: LazyVsActiveConfig, taus: list[float], move: np.ndarray, move_lin: np.ndarray, seed: int) -> _Fits:
    """Slopes of the relative movement (seeds, taus) against tau, of the network and of its linearisation."""
    lazy, asym = np.array(taus) >= cfg.tau_lazy, np.array(taus) >= cfg.tau_asymptotic
    fit, fit_lin = (
        _slope(np.array(taus)[lazy], move[:, lazy], seed),
        _slope(np.array(taus)[lazy], move_lin[:, lazy], seed),
    )
    fit_asym = _slope(np.array(taus)[asym], move[:, asym], seed)
    with np.errstate(divide="ignore", invalid="ignore"):  # untrained: log 0
        local = np.diff(np.log(move.mean(0))) / np.diff(np.log(taus))  # (taus - 1,) local slopes of the mean
    one_seed = _slope(np.array(taus)[lazy], move[:1, lazy], seed)[0]
    return _Fits(fit, fit_lin, fit_asym, local, lazy, one_seed)


def _claims(cfg: LazyVsActiveConfig, taus: list[float], fits: _Fits, g_ci, ratio_ci, gap: np.ndarray) -> list:
    """The four claims from the movement fits and the mean (CI) gap and test-loss ratio over seeds."""
    fit, fit_lin, fit_asym, local, lazy, one_seed = fits
    source = "Chizat, Oyallon & Bach, NeurIPS 2019, Thm 2.2-2.4 and Fig. 2"
    return [
        claim_ci_contains(
            "movement_slope",
            f"relative parameter movement |theta_T - theta_0|/|theta_0| ~ tau^s "
            f"over tau >= {cfg.tau_lazy:g}: log-log slope s, 95% bootstrap CI over {cfg.seeds} seeds",
            fit[0],
            fit[1],
            -1.0,
            source=source,
            control=fit_lin[0],
            note=f"control: the linearised model's slope (-1 by scaling once eta(tau) is constant); "
            f"pre-issue-14 rule |s + 1| <= {cfg.slope_tol:g} on seed 0: s = {one_seed:.3f}; "
            "local slopes " + ", ".join(f"{v:.3f}" for v in local[lazy[:-1]]) + " (1/tau is "
            "asymptotic: an O(1/tau^2) correction bends the first points)",
        ),
        claim_ci_contains(
            "movement_slope_asymptotic",
            f"the same slope over tau >= {cfg.tau_asymptotic:g} (variant "
            "added after the previous CI excluded -1; both are reported)",
            fit_asym[0],
            fit_asym[1],
            -1.0,
            source=source,
            control=fit_lin[0],
        ),
        claim_ci_below(
            "lazy_matches_linearisation",
            f"at tau = {taus[-1]:.3g} the trained network and its trained "
            "linearisation agree on test points: |tau f - tau f_lin| / |tau f_lin|, mean over "
            f"{cfg.seeds} seeds",
            g_ci.mean,
            g_ci.ci,
            cfg.agree_tol,
            source=source,
            control=float(np.mean(gap[:, 0])),
            note=f"control: the same gap in the active regime (tau = {taus[0]:.3g})",
        ),
        claim_ci_below(
            "active_beats_lazy",
            f"the active regime (tau = {taus[0]:.3g}) reaches a lower test loss "
            f"than the lazy one (tau = {taus[-1]:.3g}): test loss ratio active / lazy, mean over "
            f"{cfg.seeds} seeds",
            ratio_ci.mean,
            ratio_ci.ci,
            1.0,
            source=source,
            control=1.0,
            note="control: 1, the ratio without training (both output f(theta_0) = 0)",
        ),
    ]


@register
class LazyVsActive(Experiment):
    name = "lazy-vs-active"
    title = "Lazy (tangent) vs active training as the output scale tau varies"
    reference = "Chizat, Oyallon & Bach, NeurIPS 2019, §2 and Fig. 2"
    description = __doc__
    Config = LazyVsActiveConfig
    presets = {
        "quick": {},
        "full": {
            "d": 100,
            "n_train": 1000,
            "n_test": 1000,
            "m": 50,
            "T": 50.0,
            "log10_tau": tuple(np.round(np.linspace(-2.2, 1.0, 9), 2).tolist()),
        },
    }
    captions = {
        "lazy_active_curves": Caption(
            "Against the output scale tau: the test loss of the network and of its linearisation (left); the "
            "relative movement of the parameters, which falls as 1/tau, and the gap between the network and its "
            "linearisation (right).",
            claims=("movement_slope", "movement_slope_asymptotic", "lazy_matches_linearisation", "active_beats_lazy"),
        ),
        "lazy_active_particles_active": Caption(
            "Active regime (smallest tau): the units |c| w travel far in the teacher's plane."
        ),
        "lazy_active_particles_lazy": Caption("Lazy regime (largest tau): the units barely leave their start."),
    }

    def run(self, cfg: LazyVsActiveConfig, ctx) -> ExperimentResult:
        taus = [float(10.0**e) for e in cfg.log10_tau]
        draws = [self._draw(cfg, ctx.seed + 1000 * s) for s in range(cfg.seeds)]  # s = 0: the single-seed draw
        runs = [
            [
                ctx.stage(
                    f"tau{t:.4g}" if s == 0 else f"tau{t:.4g}-s{s}",
                    lambda t=t, s=s: self._one(cfg, ctx, draws[s], t, s),
                )
                for t in taus
            ]
            for s in range(cfg.seeds)
        ]
        get = {
            k: np.array([[r[k] for r in rs] for rs in runs]) for k in ("move", "move_lin", "gap", "test", "test_lin")
        }
        move, gap, test = get["move"], get["gap"], get["test"]  # (seeds, taus)
        for t, r in zip(taus, runs[0]):
            ctx.log(
                f"seed 0, tau {t:.3g}: test {r['test']:.3e} (linearised {r['test_lin']:.3e}), "
                f"movement {r['move']:.3e}, gap {r['gap']:.3e}"
            )
        fits = _fits(cfg, taus, move, get["move_lin"], ctx.seed)
        g_ci, ratio_ci = mean_ci(gap[:, -1], seed=ctx.seed), mean_ci(test[:, 0] / test[:, -1], seed=ctx.seed)
        claims = _claims(cfg, taus, fits, g_ci, ratio_ci, gap)
        metrics = {
            "movement_slope": fits.slope[0],
            "movement_slope_lo": fits.slope[1][0],
            "movement_slope_hi": fits.slope[1][1],
            "movement_slope_linearised": fits.linearised[0],
            "movement_slope_asymptotic": fits.asymptotic[0],
            "movement_slope_seed0": fits.seed0,
            "gap_largest_tau": g_ci.mean,
            "test_active": float(test[:, 0].mean()),
            "test_lazy": float(test[:, -1].mean()),
            **{f"test_tau{t:.3g}": float(v) for t, v in zip(taus, test.mean(0))},
            **{f"movement_tau{t:.3g}": float(v) for t, v in zip(taus, move.mean(0))},
        }
        curves = self._curves(ctx, taus, test.mean(0), get["test_lin"].mean(0), move, gap.mean(0), fits.slope[0])
        artifacts = {"curves": curves}
        teacher = draws[0][0]
        basis = plane_basis(teacher.w.numpy())
        for tag, r, t in (("active", runs[0][0], taus[0]), ("lazy", runs[0][-1], taus[-1])):
            title = f"{tag} ($\\tau$ = {t:.3g}): the units move {r['move']:.2g} of their initial norm"
            fig = particle_figure(r["snapshots"], basis, teacher.measure.numpy(), title=title)
            artifacts[f"particles_{tag}"] = ctx.save_figure(f"lazy_active_particles_{tag}", fig)
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _draw(cfg: LazyVsActiveConfig, seed: int):
        """(teacher, train objective, test objective, theta0 (m, d+1) with f(theta0) = 0, test points)."""
        g = torch.Generator().manual_seed(seed)
        teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g)
        x = torch.randn(cfg.n_train, cfg.d, generator=g, dtype=torch.float64)  # (n_train, d)
        xt = torch.randn(cfg.n_test, cfg.d, generator=g, dtype=torch.float64)  # (n_test, d)
        theta0 = symmetric_init(ReLU(cfg.d).init(cfg.m // 2, generator=g, dtype=torch.float64))  # (m, d+1)
        return teacher, DatasetRisk(x, teacher(x)), DatasetRisk(xt, teacher(xt)), theta0, xt

    @staticmethod
    def _one(cfg: LazyVsActiveConfig, ctx, draw, tau: float, s: int) -> dict:
        """Network and linearisation trained at output scale tau over the mean-field horizon T."""
        _, train_obj, test_obj, theta0, xt = draw
        unit = ReLU(cfg.d)
        eta = min(cfg.eta_max, cfg.eta_scale * tau)
        steps = int(np.ceil(cfg.T / eta))
        flow = FlowConfig(eta=eta, steps=steps, alpha=tau, n_snapshots=30, risk_every=max(1, steps // 50))
        tag = f"tau{tau:.4g}" + ("" if s == 0 else f"-s{s}")
        net = train(
            ParticleMeasure(theta0, unit),
            train_obj,
            flow,
            progress=ctx.progress,
            checkpointer=ctx.checkpointer(f"net-{tag}"),
        )
        lin = train(
            ParticleMeasure(tangent_theta(theta0), Tangent(unit)),
            train_obj,
            flow,
            progress=ctx.progress,
            checkpointer=ctx.checkpointer(f"lin-{tag}"),
        )
        f, f_lin = net.final.output(xt, tau), lin.final.output(xt, tau)  # (n_test,)
        moved = float(f_lin.norm())  # f(theta0) = 0: the distance the linearisation's function travelled
        delta = lin.final.theta[:, : theta0.shape[1]] - theta0  # (m, d+1): Tangent keeps [moving | anchor]
        return {
            "test": test_obj.risk(net.final, tau),
            "test_lin": test_obj.risk(lin.final, tau),
            "move": float((net.final.theta - theta0).norm() / theta0.norm()),
            "move_lin": float(delta.norm() / theta0.norm()),
            "gap": float((f - f_lin).norm()) / moved if moved > 0 else float("nan"),
            "snapshots": net.snapshots,
        }

    @staticmethod
    def _curves(ctx, taus, test, test_lin, move, gap, slope: float) -> str:
        """Test losses (seed means) and the movement of every seed (move: (seeds, taus)) against tau."""
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        ax[0].loglog(taus, test, "o-", color=COLORS["trained"], label="network")
        ax[0].loglog(taus, test_lin, "s--", color=COLORS["control"], label="linearised model")
        ax[0].set(xlabel=r"output scale $\tau$", ylabel="test loss", title="test loss after training")
        ax[0].legend(fontsize=8)
        for s, mv in enumerate(move):
            lab = r"$|\theta_T - \theta_0| / |\theta_0|$ (each seed)" if s == 0 else None
            ax[1].loglog(taus, mv, "o-", color=COLORS["trained"], alpha=0.6, ms=3, label=lab)
        ax[1].loglog(taus, gap, "s--", color=COLORS["source"], label=r"$|f - f_{lin}| / |f_{lin}|$ (test, mean)")
        ref = move[:, -1].mean() * taus[-1] / np.array(taus)
        ax[1].loglog(taus, ref, LINESTYLES["theory"], color=COLORS["theory"], lw=0.8, label=r"$1/\tau$ (theory)")
        ax[1].set(
            xlabel=r"output scale $\tau$", ylabel="relative change", title="movement and gap to the linearisation"
        )
        ax[1].legend(fontsize=8)
        fig.suptitle(
            f"test loss active / lazy = {test[0] / test[-1]:.2g}; "
            f"movement $\\propto \\tau^{{{slope:.2f}}}$ (theory $\\tau^{{-1}}$)"
        )
        return ctx.save_figure("lazy_active_curves", fig)
