r"""rve-fluctuations: the CLT at finite times and the "self-healing" of fluctuations at long times.

.. math::

    f_n(t, x) = f_t(x) + n^{-1/2} \omega_t(x) + o(n^{-1/2}), \qquad
    \operatorname{std}_{\text{seeds}} f_n(t, x) \sim n^{-1/2} \ (t \text{ small}),
    \quad \to O(n^{-1}) \ (t \to \infty)

(Rotskoff & Vanden-Eijnden, arXiv:1805.00915, CPAM 2022, §3: the fluctuation field omega_t
of the particles' empirical measure is Gaussian at finite time (CLT) and is damped by the
gradient flow as it converges, so at long times f_n - f_t = O(n^{-1})).

For each width n the same flow (RBF units on S^{d-1}(sqrt d), gradient descent on a fixed
sample of the 3-spin target, :mod:`wgflow.tasks.three_spin`) runs from ``seeds`` independent
i.i.d. initialisations; the only randomness is the initial particles. At each snapshot time the
spread across seeds is measured on probe points: for seed s,
y_s(t) = (mean_x |f_n^{(s)}(t, x) - mean_{s'} f_n^{(s')}(t, x)|^2)^{1/2}, whose geometric mean over
seeds is proportional to the standard deviation; :func:`wgflow.stats.fit_power_law` fits it
against n with a bootstrap CI over seeds.

Claims: at the early time the exponent is -1/2 within ``tolerance``; at the final time it is
smaller (more negative) than the early one by at least ``healing_margin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..flows import FlowConfig, train
from ..measure import ParticleMeasure
from ..objectives import DatasetRisk
from ..stats import fit_power_law
from ..tasks.three_spin import ThreeSpin
from ..units import RBFSphere
from .base import ConfigError, Experiment, ExperimentResult, claim_close, claim_le, register
from .config import SEED, Domain, Float, Int, Ints


@dataclass(frozen=True)
class RVEFluctuationsConfig:
    d: int = 5  # input dimension (paper's RBF setting: 5)
    n_values: tuple = (16, 32, 64)  # widths n, doubling
    seeds: int = 6  # independent initialisations per n (the fluctuation ensemble)
    eta: float = 2.0  # step of the output weights c in mean-field time
    eta_inner: float = 0.1  # multiplier of the centres' step (see rve-3spin: z steps >= 0.5 oscillate)
    steps: int = 4000  # gradient-descent steps
    n_train: int = 512  # fixed training sample of the target (gradient descent, no minibatch noise)
    n_probe: int = 2000  # probe points where f_n(t, x) is compared across seeds
    c_scale: float = 1.0  # init: c ~ N(0, c_scale^2), z uniform on the sphere
    early_step: int = 2  # snapshot used as "early time" (t = eta * early_step)
    n_times: int = 8  # further snapshots, log-spaced up to the end
    tolerance: float = 0.2  # claim: |early exponent + 1/2| <= tolerance
    healing_margin: float = 0.2  # claim: late exponent <= early exponent - margin
    target_seed: int = 0  # realisation of a_pqr

    def validate(self):
        if len(self.n_values) < 2:
            raise ConfigError("n_values: need at least two widths")
        if self.seeds < 3:
            raise ConfigError("seeds: need >= 3 initialisations to measure a spread")
        if not 0 < self.early_step < self.steps:
            raise ConfigError("early_step must lie in (0, steps)")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1), "n_values": Ints(1, min_len=2, increasing=True), "seeds": Int(3), "eta": Float(0, open_lo=True),
        "eta_inner": Float(0), "steps": Int(2), "n_train": Int(1), "n_probe": Int(1), "c_scale": Float(0),
        "early_step": Int(1), "n_times": Int(1), "tolerance": Float(0, open_lo=True), "healing_margin": Float(0),
        "target_seed": SEED}


@register
class RVEFluctuations(Experiment):
    name = "rve-fluctuations"
    title = "Fluctuations of f_n across seeds: n^{-1/2} at early times, self-healing at long times"
    reference = "Rotskoff & Vanden-Eijnden, arXiv:1805.00915 (CPAM 2022), §3"
    description = __doc__
    Config = RVEFluctuationsConfig
    presets = {"quick": {},
               "full": {"n_values": (16, 32, 64, 128, 256), "seeds": 20, "steps": 20000, "n_train": 4096,
                        "n_probe": 10000, "n_times": 12}}

    def run(self, cfg: RVEFluctuationsConfig, ctx) -> ExperimentResult:
        f = ThreeSpin.random(cfg.d, seed=cfg.target_seed + 1000 * ctx.seed)
        x = f.sampler()(cfg.n_train, generator=torch.Generator().manual_seed(cfg.target_seed + 1), dtype=torch.float64)
        obj = DatasetRisk(x, f(x))
        probe = f.sampler()(cfg.n_probe, generator=torch.Generator().manual_seed(cfg.target_seed + 2), dtype=torch.float64)
        unit = RBFSphere(cfg.d)
        later = np.unique(np.geomspace(cfg.early_step, cfg.steps, cfg.n_times + 1).round().astype(int))
        flow = FlowConfig(eta=cfg.eta, eta_inner=cfg.eta_inner, steps=cfg.steps, risk_every=cfg.steps,
                          snapshot_steps=(cfg.early_step, *map(int, later)))

        def one(n: int, s: int) -> dict:
            g = torch.Generator().manual_seed(10_007 * ctx.seed + 101 * s + n)
            theta = unit.init(n, generator=g, dtype=torch.float64, c_scale=cfg.c_scale)
            traj = train(ParticleMeasure(theta, unit), obj, flow, generator=g, probe=probe, progress=ctx.progress,
                         checkpointer=ctx.checkpointer(f"fluct-n{n}-s{s}"))
            return {"probe_f": traj.probe_f, "times": traj.snapshot_times, "steps": traj.snapshot_steps,
                    "risk": traj.risk[-1]}

        ns, dev, risk = [], [], {}
        for n in cfg.n_values:
            runs = [ctx.stage(f"fluct-n{n}-seed{s}", lambda n=n, s=s: one(n, s)) for s in range(cfg.seeds)]
            F = np.stack([r["probe_f"] for r in runs])  # (seeds, S, n_probe)
            # (seeds, S): y_s(t). Deviations from the ensemble mean shrink by sqrt(1 - 1/seeds) at every n
            # (no effect on the slope); they share that mean, so the bootstrap CI is approximate.
            dev.append(np.sqrt(((F - F.mean(0)) ** 2).mean(-1)))
            ns += [n] * cfg.seeds
            risk[n] = float(np.mean([r["risk"] for r in runs]))
        times, steps = np.asarray(runs[0]["times"]), list(runs[0]["steps"])
        dev = np.concatenate(dev)  # (len(n_values) * seeds, S)
        ns = np.array(ns)
        fits = {float(t): fit_power_law(ns, dev[:, j], seed=ctx.seed) for j, t in enumerate(times) if steps[j] > 0}
        t_early = float(times[steps.index(cfg.early_step)])
        early, late = fits[t_early], fits[float(times[-1])]
        claims = [
            claim_close("early_exponent",
                        f"at early time t = {t_early:g} the spread across seeds ~ n^s with s = -1/2 (CLT); "
                        f"95% CI [{early.lo:.3f}, {early.hi:.3f}]", early.slope, -0.5, cfg.tolerance),
            claim_le("late_exponent",
                     f"at t = {times[-1]:g} the spread decays faster (self-healing, towards n^-1): "
                     f"s_late <= s_early - {cfg.healing_margin:g}; 95% CI [{late.lo:.3f}, {late.hi:.3f}]",
                     late.slope, early.slope - cfg.healing_margin),
        ]
        metrics = {"early_slope": early.slope, "early_lo": early.lo, "early_hi": early.hi,
                   "late_slope": late.slope, "late_lo": late.lo, "late_hi": late.hi}
        metrics.update({f"slope_t{t:.4g}": fit.slope for t, fit in fits.items()})
        metrics.update({f"train_risk_n{n}": r for n, r in risk.items()})
        return ExperimentResult(claims, metrics, self._figure(ctx, fits))

    @staticmethod
    def _figure(ctx, fits) -> dict:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        cmap = plt.get_cmap("viridis")
        for i, (t, fit) in enumerate(fits.items()):
            col = cmap(i / max(1, len(fits) - 1))
            ax[0].loglog(fit.n, fit.y_mean, "o", color=col, ms=4)
            ax[0].loglog(fit.n, fit.predict(fit.n), "-", color=col, lw=1, label=f"t = {t:.3g}: {fit.slope:.2f}")
        n = next(iter(fits.values())).n
        y0 = next(iter(fits.values())).y_mean[0]
        ax[0].loglog(n, y0 * (n / n[0]) ** -0.5, "k:", label="n^-1/2")
        ax[0].loglog(n, y0 * (n / n[0]) ** -1.0, "k--", label="n^-1")
        ax[0].set(xlabel="n", ylabel="spread of f_n across seeds", title="fluctuations vs n")
        ax[0].legend(fontsize=6)
        t = np.array(list(fits))
        s = np.array([f.slope for f in fits.values()])
        ax[1].semilogx(t, s, "o-")
        ax[1].fill_between(t, [f.lo for f in fits.values()], [f.hi for f in fits.values()], alpha=0.3)
        ax[1].axhline(-0.5, color="k", ls=":")
        ax[1].axhline(-1.0, color="k", ls="--")
        ax[1].set(xlabel="mean-field time t", ylabel="exponent of the spread", title="exponent vs time (95% CI)")
        return {"fluctuations": ctx.save_figure("rve_fluctuations", fig)}
