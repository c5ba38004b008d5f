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
``seeds`` independent draws of (teacher, data, initialisation); every draw is trained at every
scale, the draws of one scale as one ensemble (:class:`~wgflow.flows.Ensemble`).

Step size: at small tau the velocity grad V = (1/tau) E[l'(tau f) grad phi] is O(1/tau) and the
Hessian of J_tau has an O(1/tau) part, so the stable step shrinks like tau; at large tau the
dynamics are the O(1) tangent-kernel dynamics. We use eta(tau) = min(eta_max, eta_scale * tau)
over the fixed mean-field horizon T (the source's eta = min(10, 0.1/tau^2) is the same rule in its
parametrisation of the update W <- W - (eta/tau) grad).

Claims (:mod:`.claims`; each judged by one rule on the run and on its null, and failing with
training switched off, ``--untrained``):

1. ``movement_slope``: the relative movement |theta_T - theta_0| / |theta_0| ~ tau^s over the lazy
   window ``lazy_taus``; the cluster-t interval of s (draws as clusters) lies within -1 ±
   ``slope_delta``. Why 0.1: the lazy trajectory is within O(1/tau) of the linearised one, so the
   movement is (C/tau)(1 + a/tau); the window starts where the correction is at most half the
   leading term, |a| <= min(lazy_taus)/2, which biases the least-squares slope over the window by at
   most 0.099 (:func:`.claims.slope_bias`). Null: the same fit over the active window
   ``active_taus``. Control: the linearised model's slope (-1 by scaling at constant eta).
2. ``lazy_matches_linearisation``: at the largest tau the network and its linearisation agree on test
   points, |tau f - tau f_lin| / |tau f_lin| (nan if f_lin did not move), t interval below
   ``agree_tol``. Null: the same gap at the smallest tau (active regime).
3. ``active_beats_lazy``: test loss ratio active (smallest tau) / lazy (largest tau), t interval
   below 1. Null: the same ratio for the linearised models trained at the same two scales with the
   same steps (they are one model up to the step size, so a ratio below 1 there would come from the
   steps, not from the regime). Control: 1 (no training: both networks output f(theta_0) = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch

from ...domains import Domain, Float, Floats, Int
from ...flows import Ensemble, FlowConfig, train
from ...harness import ConfigError, Experiment, ExperimentResult, register
from ...measures.linearized import Tangent, symmetric_init, tangent_theta
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import DatasetRisk
from ...plotting.figures import Caption
from ...tasks.teacher import ReLUTeacher
from . import figures
from .claims import Measured, claims, metrics


@dataclass(frozen=True)
class LazyVsActiveConfig:
    """Defaults are the ``quick`` preset."""

    d: int = 20  # input dimension, x ~ N(0, I_d)
    m0: int = 3  # teacher width
    m: int = 50  # student width (m/2 symmetric pairs)
    n_train: int = 200  # training points
    n_test: int = 1000  # test points
    active_taus: tuple = (0.1, 0.3162, 1.0)  # active window: the null of claim (1); its smallest is claims (2), (3)'s
    lazy_taus: tuple = (1.0, 3.162, 10.0, 31.62, 100.0)  # lazy window: claim (1)'s fit; its largest is (2), (3)'s
    T: float = 20.0  # mean-field horizon (same for every tau)
    eta_max: float = 1.0  # step cap (lazy side)
    eta_scale: float = 0.5  # eta(tau) = min(eta_max, eta_scale * tau)
    # claim (1): |s + 1| bound; the O(1/tau) correction with |a| <= min(lazy_taus)/2 biases s by <= 0.099
    slope_delta: float = 0.1
    agree_tol: float = 0.05  # claim (2): |tau f - tau f_lin| / |tau f_lin| on test points at the largest tau
    seeds: int = 20  # independent (teacher, data, init) draws, each trained at every tau

    def validate(self) -> None:
        if self.m % 2:
            raise ConfigError(f"config key 'm': the symmetrised init needs an even width, got {self.m}")
        if max(self.active_taus) > min(self.lazy_taus):
            raise ConfigError(
                f"config keys 'active_taus' and 'lazy_taus': the active window must lie below the lazy one, got "
                f"{self.active_taus} and {self.lazy_taus}"
            )

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "m0": Int(1),
        "m": Int(2),
        "n_train": Int(1),
        "n_test": Int(1),
        "active_taus": Floats(1e-6, 1e6, open_lo=True, min_len=2, increasing=True),
        "lazy_taus": Floats(1e-6, 1e6, open_lo=True, min_len=2, increasing=True),
        "T": Float(0, open_lo=True),
        "eta_max": Float(0, open_lo=True),
        "eta_scale": Float(0, open_lo=True),
        "slope_delta": Float(0, open_lo=True),
        "agree_tol": Float(0, open_lo=True),
        "seeds": Int(2),
    }


class Draw(NamedTuple):
    """One realisation: the teacher, its training and test objectives, theta0 (m, d+1) with f(theta0) = 0."""

    teacher: ReLUTeacher
    train: DatasetRisk
    test: DatasetRisk
    theta0: torch.Tensor
    xt: torch.Tensor  # (n_test, d)


def _draw(cfg: LazyVsActiveConfig, seed: int) -> Draw:
    g = torch.Generator().manual_seed(seed)
    teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=g)
    x = torch.randn(cfg.n_train, cfg.d, generator=g, dtype=torch.float64)  # (n_train, d)
    xt = torch.randn(cfg.n_test, cfg.d, generator=g, dtype=torch.float64)  # (n_test, d)
    theta0 = symmetric_init(ReLU(cfg.d).init(cfg.m // 2, generator=g, dtype=torch.float64))  # (m, d+1)
    return Draw(teacher, DatasetRisk(x, teacher(x)), DatasetRisk(xt, teacher(xt)), theta0, xt)


def _scale(cfg: LazyVsActiveConfig, ctx, draws: list[Draw], tau: float) -> dict:
    """Every draw's network and linearisation trained at output scale tau over the horizon T (two ensembles)."""
    unit = ReLU(cfg.d)
    eta = min(cfg.eta_max, cfg.eta_scale * tau)
    steps = int(np.ceil(cfg.T / eta))
    flow = FlowConfig(eta=eta, steps=steps, alpha=tau, n_snapshots=30, risk_every=steps)
    objectives = [dr.train for dr in draws]
    kw = {"seed": list(range(len(draws))), "progress": ctx.progress}
    net = train(
        Ensemble.stack([ParticleMeasure(dr.theta0, unit) for dr in draws]),
        objectives,
        flow,
        checkpointer=ctx.checkpointer(f"net-tau{tau:.4g}"),
        **kw,
    )
    lin = train(
        Ensemble.stack([ParticleMeasure(tangent_theta(dr.theta0), Tangent(unit)) for dr in draws]),
        objectives,
        flow,
        checkpointer=ctx.checkpointer(f"lin-tau{tau:.4g}"),
        **kw,
    )
    ctx.save_trajectory(
        f"trajectory_net-tau{tau:.4g}", net[0]
    )  # the first draw's flows: wgflow.interop.load_trajectory
    ctx.save_trajectory(f"trajectory_lin-tau{tau:.4g}", lin[0])
    out: dict[str, list] = {k: [] for k in ("test", "test_lin", "move", "move_lin", "gap")}
    for dr, a, b in zip(draws, net, lin):
        f, f_lin = a.final.output(dr.xt, tau), b.final.output(dr.xt, tau)  # (n_test,)
        moved = float(f_lin.norm())  # f(theta0) = 0: the distance the linearisation's function travelled
        delta = b.final.theta[:, : dr.theta0.shape[1]] - dr.theta0  # (m, d+1): Tangent keeps [moving | anchor]
        out["test"].append(dr.test.risk(a.final, tau))
        out["test_lin"].append(dr.test.risk(b.final, tau))
        out["move"].append(float((a.final.theta - dr.theta0).norm() / dr.theta0.norm()))
        out["move_lin"].append(float(delta.norm() / dr.theta0.norm()))
        out["gap"].append(float((f - f_lin).norm()) / moved if moved > 0 else float("nan"))
    return {**{k: np.array(v) for k, v in out.items()}, "snapshots": net[0].snapshots}  # (draws,) each


@register
class LazyVsActive(Experiment):
    name = "lazy-vs-active"
    title = "Lazy (tangent) vs active training as the output scale tau varies"
    reference = "Chizat, Oyallon & Bach, NeurIPS 2019, §2 and Fig. 2"
    description = __doc__
    Config = LazyVsActiveConfig
    cost = 25  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        "full": {
            "d": 100,
            "n_train": 1000,
            "n_test": 1000,
            "m": 50,
            "T": 50.0,
            # the source's tau = 10^(-2.2 ... -0.2) in steps of 0.4; the lazy window as the quick preset's
            "active_taus": (0.00631, 0.01585, 0.03981, 0.1, 0.2512, 0.631),
        },
    }
    captions = {
        "lazy_active_curves": Caption(
            "Against the output scale tau: the test loss of the network and of its linearisation (left); the "
            "relative movement of the parameters of every draw, with its slope over the lazy window, and the gap "
            "between the network and its linearisation (right).",
            claims=("movement_slope", "lazy_matches_linearisation", "active_beats_lazy"),
        ),
        "lazy_active_particles_active": Caption(
            "Active regime (smallest tau, first draw): the units |c| w in the teacher's plane."
        ),
        "lazy_active_particles_lazy": Caption(
            "Lazy regime (largest tau, first draw): the units |c| w in the teacher's plane."
        ),
    }

    def run(self, cfg: LazyVsActiveConfig, ctx) -> ExperimentResult:
        taus = sorted({float(t) for t in (*cfg.active_taus, *cfg.lazy_taus)})
        draws = [_draw(cfg, ctx.seed + 1000 * s) for s in range(cfg.seeds)]  # s = 0: the single-seed draw
        runs = [ctx.stage(f"tau{t:.4g}", lambda t=t: _scale(cfg, ctx, draws, t)) for t in taus]
        get = {k: np.stack([r[k] for r in runs], axis=1) for k in Measured._fields[1:]}  # (draws, taus) each
        r = Measured(taus, **get)
        for i, t in enumerate(taus):
            ctx.log(
                f"tau {t:.3g}: test {r.test[:, i].mean():.3e} (linearised {r.test_lin[:, i].mean():.3e}), "
                f"movement {r.move[:, i].mean():.3e}, gap {r.gap[:, i].mean():.3e} (means over {cfg.seeds} draws)"
            )
        found = metrics(cfg, r)
        artifacts = {
            "curves": figures.curves(
                ctx, taus, r.test.mean(0), r.test_lin.mean(0), r.move, r.gap.mean(0), found["movement_slope"]
            )
        }
        for tag, i in (("active", 0), ("lazy", -1)):
            artifacts[f"particles_{tag}"] = figures.particles(
                ctx, draws[0].teacher, tag, taus[i], runs[i]["snapshots"], float(r.move[0, i])
            )
        return ExperimentResult(claims(cfg, r), found, artifacts)
