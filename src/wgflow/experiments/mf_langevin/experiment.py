r"""mf-langevin: noisy particle GD minimises the free energy and settles on its proximal Gibbs law.

.. math::

    \mathcal F_\lambda(\mu) = R(\mu) + \tfrac{wd}{2}\int|\theta|^2 d\mu + \lambda \int \mu\log\mu,
    \qquad \mu^* \propto \exp\big(-(V(\theta;\mu^*) + \tfrac{wd}{2}|\theta|^2)/\lambda\big)

(Chizat 2022; Nitanda, Wu & Suzuki 2022; Mei, Montanari & Nguyen 2018 for noisy SGD). A
two-dimensional mean-field model, so that the Gibbs density can be computed on a grid: ReLU
units theta = (c, w) in R^2 on scalar inputs x ~ N(0, 1), f = (1/n) sum_i c_i relu(w_i x),
fitting the teacher f*(x) = |x|/2 = (relu(x) + relu(-x))/2 on a fixed data set (full-batch
gradient, so V(theta; mu) is exact for the risk being minimised).

Claims (each fails with training switched off, ``--untrained``). The null of each is plain gradient
descent (lambda = 0) with the same weight decay, step and number of steps, judged by the same rule:

1. ``free_energy_decreases``: F_lambda (entropy by the Kozachenko-Leonenko 1-NN estimator) never rises
   by more than 3 standard errors of the estimator between snapshots and falls by more than 10 of
   them overall. Null: F_lambda along plain GD (whose particles contract, so their entropy falls).
2. ``gibbs_fixed_point``: the final particle law matches the proximal Gibbs law computed from its own
   V: W2(particles, Gibbs reference sample) / mean W2(n i.i.d. Gibbs samples, same reference) (the
   sampling floor, ``null_draws`` draws, Student-t interval of its mean) <= ``w2_factor`` on the CI
   upper end. Null: plain GD's final particles against the Gibbs law of *their* V (a stationary point
   of the noiseless flow is no proximal Gibbs law).
3. ``annealing_reaches_minimum``: with a geometrically annealed temperature and small weight decay
   the unregularised risk falls to ``anneal_ratio`` of its initial value (its minimum is 0: the
   teacher is realisable). Null: plain GD with the annealed run's weight decay and steps (if it
   reaches the minimum too, annealing is not what got there). Control: the constant-temperature run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import Domain, Float, Int
from ...flows import FlowConfig, train
from ...harness import Experiment, ExperimentResult, register
from ...limits.langevin import free_energy, gibbs_density
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import DatasetRisk
from ...plotting.figures import COLORS, Caption, _plt
from ...stats import mean_ci
from ...tasks.teacher import ReLUTeacher
from ...transport import wasserstein
from .claims import Descent, GibbsRatio, claims


@dataclass(frozen=True)
class MFLangevinConfig:
    n: int = 1000  # particles
    n_data: int = 256  # data points x ~ N(0, 1)
    lam: float = 0.03  # temperature lambda of the stationary run
    weight_decay: float = 0.3  # wd of the stationary run (makes exp(-V/lambda) integrable)
    eta: float = 0.05  # step in mean-field time
    steps: int = 600  # stationary run (T = 30)
    n_snapshots: int = 10  # free-energy evaluations (log-spaced)
    grid: int = 201  # Gibbs grid points per axis
    grid_half_width: float = 2.5  # grid on [-L, L]^2
    n_reference: int = 4000  # samples of the Gibbs density used as the W2 reference
    null_draws: int = 10  # draws of the sampling floor
    w2_factor: float = 1.3  # claim 2: W2(particles, Gibbs) <= factor * mean null W2
    anneal_lam: float = 0.03  # annealed run: lambda_k = anneal_lam * anneal_decay^k
    anneal_decay: float = 0.99  # per-step factor of lambda in the annealed run
    anneal_steps: int = 800  # steps of the annealed run
    anneal_weight_decay: float = 0.003  # weight decay of the annealed run
    anneal_ratio: float = 1e-3  # claim 3: R_final <= ratio * R(mu_0)
    init_scale: float = 0.5  # c, w ~ N(0, init_scale^2)

    domains: ClassVar[dict[str, Domain]] = {
        "n": Int(10),
        "n_data": Int(1),
        "lam": Float(0, open_lo=True),
        "weight_decay": Float(0, open_lo=True),
        "eta": Float(0, open_lo=True),
        "steps": Int(1),
        "n_snapshots": Int(2),
        "grid": Int(3),
        "grid_half_width": Float(0, open_lo=True),
        "n_reference": Int(2),
        "null_draws": Int(1),
        "w2_factor": Float(0, open_lo=True),
        "anneal_lam": Float(0, open_lo=True),
        "anneal_decay": Float(0, 1, open_lo=True),
        "anneal_steps": Int(1),
        "anneal_weight_decay": Float(0),
        "anneal_ratio": Float(0, open_lo=True),
        "init_scale": Float(0, open_lo=True),
    }


def _flow_configs(cfg: MFLangevinConfig) -> tuple[FlowConfig, FlowConfig]:
    """The constant-lambda (stationary) flow and the annealed flow (geometric noise schedule)."""
    flow = FlowConfig(
        eta=cfg.eta,
        steps=cfg.steps,
        noise=cfg.lam,
        weight_decay=cfg.weight_decay,
        n_snapshots=cfg.n_snapshots,
        risk_every=10,
    )
    anneal = FlowConfig(
        eta=cfg.eta,
        steps=cfg.anneal_steps,
        noise=cfg.anneal_lam,
        noise_schedule="geometric",
        noise_decay=cfg.anneal_decay,
        weight_decay=cfg.anneal_weight_decay,
        risk_every=10,
    )
    return flow, anneal


def _plain_gd(fc: FlowConfig) -> FlowConfig:
    """``fc`` without its noise: plain gradient descent with the same step, weight decay and steps."""
    return dataclasses.replace(fc, noise=0.0, noise_schedule="constant", noise_decay=1.0)


def _free_energy_path(
    cfg: MFLangevinConfig, obj: DatasetRisk, mu0: ParticleMeasure, snapshots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Descent]:
    """F_lambda and its standard error at each snapshot; the rises beyond 3 SE and the overall drop."""
    fe = [free_energy(mu0.with_theta(torch.from_numpy(s)), obj, cfg.lam, cfg.weight_decay) for s in snapshots]
    F = np.array([f.value for f in fe])
    se = np.array([f.se for f in fe])
    jumps = np.diff(F) - 3 * np.sqrt(se[1:] ** 2 + se[:-1] ** 2)  # > 0 would be a significant increase
    return F, se, Descent(jumps, float(F[0] - F[-1]), float(se.mean()))


@register
class MFLangevin(Experiment):
    name = "mf-langevin"
    title = "Mean-field Langevin dynamics: free-energy descent, proximal Gibbs fixed point, annealing"
    reference = "Chizat, TMLR 2022; Nitanda, Wu & Suzuki, AISTATS 2022"
    description = __doc__
    Config = MFLangevinConfig
    cost = 33  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        "full": {
            "n": 4000,
            "steps": 2000,
            "eta": 0.025,
            "anneal_steps": 4000,
            "anneal_decay": 0.998,
            "n_reference": 16000,
            "grid": 301,
        },
    }
    captions = {
        "mf_langevin": Caption(
            "Noisy gradient descent on the regularised risk: the free energy F_lambda along the run, +-3 SE of "
            "its entropy estimator (left); the final particles over the proximal Gibbs density of their own first "
            "variation (middle); the unregularised risk of the annealed run, of plain GD with the same weight decay "
            "and steps (the null) and of the constant-temperature run (right).",
            claims=("free_energy_decreases", "gibbs_fixed_point", "annealing_reaches_minimum"),
        )
    }

    def run(self, cfg: MFLangevinConfig, ctx) -> ExperimentResult:
        unit = ReLU(1)
        teacher = ReLUTeacher(ParticleMeasure(torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64), unit))
        x = torch.randn(cfg.n_data, 1, generator=torch.Generator().manual_seed(7 + ctx.seed), dtype=torch.float64)
        obj = DatasetRisk(x, teacher(x))
        g = torch.Generator().manual_seed(ctx.seed)
        theta0 = unit.init(cfg.n, generator=g, dtype=torch.float64, c_scale=cfg.init_scale, w_scale=cfg.init_scale)
        mu0 = ParticleMeasure(theta0, unit)

        flow, anneal = _flow_configs(cfg)

        def run_flow(fc, key):
            traj = train(mu0, obj, fc, seed=ctx.seed + 1, progress=ctx.progress, checkpointer=ctx.checkpointer(key))
            ctx.save_trajectory(f"trajectory_{key}", traj)  # wgflow.interop.load_trajectory
            return {
                "snapshots": traj.snapshots,
                "times": traj.snapshot_times,
                "risk": traj.risk,
                "risk_times": traj.risk_times,
            }

        stat = ctx.stage("stationary", lambda: run_flow(flow, "mfl-stationary"))
        ann = ctx.stage("annealed", lambda: run_flow(anneal, "mfl-annealed"))
        # the nulls: plain GD (lambda = 0) with each run's weight decay and steps
        gd = ctx.stage("gd", lambda: run_flow(dataclasses.replace(flow, noise=0.0), "mfl-gd"))
        gd_ann = ctx.stage("gd-annealed", lambda: run_flow(_plain_gd(anneal), "mfl-gd-annealed"))

        F, se, fe = _free_energy_path(cfg, obj, mu0, stat["snapshots"])  # (1)
        F_gd, _, fe_gd = _free_energy_path(cfg, obj, mu0, gd["snapshots"])

        # (2) the final law against the proximal Gibbs density of its own V; null: plain GD's final law
        rng = np.random.default_rng(ctx.seed)
        final = mu0.with_theta(torch.from_numpy(stat["snapshots"][-1]))
        final_gd = mu0.with_theta(torch.from_numpy(gd["snapshots"][-1]))
        gb, gdens, edge_mass = self._gibbs_test(cfg, obj, final, rng)
        gb_gd, _, _ = self._gibbs_test(cfg, obj, final_gd, rng)

        # (3) annealing
        risks = {
            "initial": float(ann["risk"][0]),
            "annealed": float(ann["risk"][-1]),
            "annealed_gd": float(gd_ann["risk"][-1]),
            "constant": float(stat["risk"][-1]),
        }
        metrics = {
            "F_initial": F[0],
            "F_final": F[-1],
            "F_final_gd": F_gd[-1],
            "entropy_se": fe.se,
            "w2_gibbs": gb.w2,
            "w2_null_mean": gb.floor.mean,
            "w2_gibbs_ratio_gd": gb_gd.ratio,
            "gibbs_edge_mass": edge_mass,
            "risk_initial": risks["initial"],
            "risk_annealed": risks["annealed"],
            "risk_annealed_gd": risks["annealed_gd"],
            "risk_constant_temperature": risks["constant"],
        }
        artifacts = self._figures(ctx, stat, ann, gd_ann, F, se, final.numpy(), gdens, gb.ratio)
        return ExperimentResult(claims(cfg, (fe, fe_gd), (gb, gb_gd), risks), metrics, artifacts)

    @staticmethod
    def _gibbs_test(cfg: MFLangevinConfig, obj, mu, rng):
        """W2(mu, Gibbs reference) over the floor of n i.i.d. Gibbs samples (null_draws draws), the density, its edge mass."""
        L = cfg.grid_half_width
        axes = [np.linspace(-L, L, cfg.grid)] * 2
        gd = gibbs_density(obj, mu, cfg.lam, axes, weight_decay=cfg.weight_decay)
        ref = gd.sample(cfg.n_reference, rng)
        w2 = float(wasserstein(mu.numpy(), ref, method="exact"))
        null = np.array([float(wasserstein(gd.sample(cfg.n, rng), ref, method="exact")) for _ in range(cfg.null_draws)])
        edge_mass = float(gd.density[[0, -1], :].sum() + gd.density[:, [0, -1]].sum()) * gd.cell
        return GibbsRatio(w2, mean_ci(null)), gd, edge_mass

    @staticmethod
    def _figures(ctx, stat, ann, gd_ann, F, se, x, gd, ratio):
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(1, 3, figsize=(13, 3.9), layout="constrained")
        t = np.maximum(stat["times"], stat["times"][1] / 2)
        ax[0].errorbar(t, F, yerr=3 * se, fmt="o-", ms=3, color=COLORS["trained"])
        ax[0].set(xscale="log", xlabel="mean-field time $t$", ylabel=r"free energy $F_\lambda(\mu_t)$")
        ax[0].set_title(r"$F_\lambda$ descends ($\pm$3 SE)")
        ax[1].contour(gd.axes[1], gd.axes[0], gd.density, levels=8, cmap="Greys")
        ax[1].plot(x[:, 1], x[:, 0], ".", ms=1.5, color=COLORS["trained"], alpha=0.5, label="particles at $T$")
        ax[1].plot([], [], "-", color="0.4", label="proximal Gibbs density")
        ax[1].set(xlabel="$w$", ylabel="$c$", title="particles vs their Gibbs law")
        ax[1].legend(loc="upper right", fontsize=7)
        ax[2].semilogy(
            stat["risk_times"], stat["risk"], ":", color=COLORS["control"], label=r"constant $\lambda$ (control)"
        )
        ax[2].semilogy(
            gd_ann["risk_times"], gd_ann["risk"], "--", color=COLORS["reference"], label="plain GD, same wd (null)"
        )
        ax[2].semilogy(ann["risk_times"], ann["risk"], color=COLORS["trained"], label=r"annealed $\lambda$")
        ax[2].set(xlabel="mean-field time $t$", ylabel="unregularised risk $R$", title="annealing")
        ax[2].legend(fontsize=8)
        fig.suptitle(
            f"$F_\\lambda$: {F[0]:.3g} to {F[-1]:.3g}; $W_2$ to the Gibbs law = {ratio:.2g} x the sampling floor; "
            f"annealed $R_T/R_0$ = {ann['risk'][-1] / ann['risk'][0]:.2g}"
        )
        return {"langevin": ctx.save_figure("mf_langevin", fig)}
