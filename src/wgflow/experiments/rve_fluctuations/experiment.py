r"""rve-fluctuations: the CLT at finite times and the "self-healing" of fluctuations at long times.

.. math::

    f_n(t, x) = f_t(x) + n^{-1/2} \omega_t(x) + o(n^{-1/2}), \qquad
    \operatorname{std}_{\text{seeds}} f_n(t, x) \sim n^{-1/2} \ (t \text{ small}),
    \quad \to O(n^{-1}) \ (t \to \infty)

(Rotskoff & Vanden-Eijnden, arXiv:1805.00915, CPAM 2022, §3: the fluctuation field omega_t
of the particles' empirical measure is Gaussian at finite time (CLT) and is damped by the
gradient flow as it converges, so at long times f_n - f_t = O(n^{-1})).

For each width n the same flow (RBF units on S^{d-1}(sqrt d), gradient descent on a fixed sample of
the 3-spin target, :mod:`wgflow.tasks.three_spin`) runs from ``seeds`` independent i.i.d.
initialisations; the only randomness is the initial particles, drawn afresh at every width (no
realisation is shared across n). At each snapshot time the spread across seeds is measured on probe
points: for seed s, y_s(t) = (mean_x |f_n^{(s)}(t, x) - mean_{s'} f_n^{(s')}(t, x)|^2)^{1/2}, whose
geometric mean over seeds is proportional to the standard deviation; :func:`wgflow.stats.fit_power_law`
fits it against n (Welch t over the widths' seeds, method "welch-slope").

The times are mean-field times fixed a priori by criteria on the seed-mean probe risk
R_n(t) = 1/2 mean_x (f_n(t, x) - f(x))^2 of *every* width: the **early time** is the first snapshot at
which R_n(t) <= ``early_fraction`` R_n(0) (the flow has moved); the **converged time** is the first later
snapshot at which R_n falls by at most ``converged_rate`` per e-fold of time (-d log R / d log t between
snapshots), RVE's t -> infinity. A run that never converges has no converged time: the late claims fail
and their note says so (the exponent at the final time is the ``control`` and the ``final_*`` metrics).

Claims, each judged by the same rule on its null, **the same fit at t = 0 on the i.i.d. initial draw**:

- ``early_exponent``: at the early time the whole 95% CI of the exponent lies within -1/2 ± ``early_delta``
  (finite-time CLT, RVE §3). The t = 0 draw is the CLT by construction, so its null may pass too: then the
  claim is a pass, not evidence (it says the flow has not yet moved the spread off the CLT rate);
- ``late_exponent``: at the converged time the CI lies within -1 ± ``late_delta`` (self-healing,
  f_n - f = O(n^-1));
- ``late_below_clt``: at the converged time the CI lies below -1/2 (the spread decays faster than the CLT).

The margins are the finite-n corrections (see the config). With training switched off (``--untrained``)
the loss never drops, so there is neither an early nor a converged time (nan, every claim fails).
Pre-registration: ``registration.toml`` beside this module.

Each width's seeds run as one ensemble (:class:`~wgflow.flows.Ensemble`, batched RBF kernels; member s
draws its particles from its own generator). The sphere retraction runs member by member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import SEED, Domain, Float, Int, Ints
from ...flows import Ensemble, FlowConfig, train
from ...harness import Experiment, ExperimentResult, Null, claim_ci_below, claim_ci_within, register
from ...measures.measure import ParticleMeasure
from ...measures.units import RBFSphere
from ...objectives.risks import DatasetRisk
from ...plotting.figures import COLORS, Caption, _plt
from ...stats import fit_power_law, within
from ...tasks.three_spin import ThreeSpin


@dataclass(frozen=True)
class RVEFluctuationsConfig:
    d: int = 5  # input dimension (paper's RBF setting: 5)
    n_values: tuple = (16, 32, 64, 128)  # widths n, doubling (>= 4 points on the n-axis)
    seeds: int = 8  # independent initialisations per n (the fluctuation ensemble)
    eta: float = 2.0  # step of the output weights c in mean-field time
    eta_inner: float = 0.1  # multiplier of the centres' step (see rve-3spin: z steps >= 0.5 oscillate)
    steps: int = 4000  # gradient-descent steps
    n_train: int = 512  # fixed training sample of the target (gradient descent, no minibatch noise)
    n_probe: int = 2000  # probe points where f_n(t, x) is compared across seeds (and the probe risk measured)
    c_scale: float = 1.0  # init: c ~ N(0, c_scale^2), z uniform on the sphere
    early_fraction: float = 0.5  # early time: first snapshot where every width's mean probe risk <= this x R(0)
    # late time: the first snapshot at which every width's seed-mean probe risk has converged, falling by less
    # than this per e-fold of mean-field time (-d log R / d log t <= converged_rate between snapshots)
    converged_rate: float = 0.05
    # equivalence margins of the exponents (the whole CI within -1/2 ± early_delta, -1 ± late_delta): the next
    # term of f_n = f + n^-1/2 omega_t + O(n^-1) is a relative c n^-1/2 correction to the spread, which tilts the
    # exponent fitted over n = 16..128 by 0.078 c; 0.2 allows c <= 2.5
    early_delta: float = 0.2
    late_delta: float = 0.2  # the same relative n^-1/2 correction at the converged time
    n_times: int = 24  # snapshots log-spaced in [1, steps] (the early time is the first that qualifies)
    target_seed: int = 0  # realisation of a_pqr

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "n_values": Ints(1, min_len=2, increasing=True),
        "seeds": Int(3),
        "eta": Float(0, open_lo=True),
        "eta_inner": Float(0),
        "steps": Int(2),
        "n_train": Int(1),
        "n_probe": Int(1),
        "c_scale": Float(0),
        "early_fraction": Float(0, 1, open_lo=True, open_hi=True),
        "converged_rate": Float(0, open_lo=True),
        "early_delta": Float(0, 0.5, open_lo=True),
        "late_delta": Float(0, 0.5, open_lo=True),
        "n_times": Int(2),
        "target_seed": SEED,
    }


_SOURCE = "Rotskoff & Vanden-Eijnden, arXiv:1805.00915 (CPAM 2022), §3"
#: the null of every claim: the same fit on the initial particles, whose spread is the CLT by construction
_NULL = "the same fit at t = 0 on the i.i.d. initial draw"


def _seeds_as_ensemble(cfg: RVEFluctuationsConfig, ctx, obj, flow: FlowConfig, unit, probe, n: int) -> dict:
    """The ``seeds`` initialisations at width n as one ensemble: f_n on the probe points at the snapshots.

    Member s draws its particles from its own generator (its stream would also give any noise or minibatch).
    """
    gens = [torch.Generator().manual_seed(10_007 * ctx.seed + 101 * s + n) for s in range(cfg.seeds)]
    mus = [ParticleMeasure(unit.init(n, generator=g, dtype=torch.float64, c_scale=cfg.c_scale), unit) for g in gens]
    trajs = train(
        Ensemble.stack(mus),
        [obj] * cfg.seeds,
        flow,
        generator=gens,
        probe=probe,
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"fluct-n{n}"),
    )
    ctx.save_trajectory(f"trajectory_fluct-n{n}", trajs[0])  # seed 0's flow: wgflow.interop.load_trajectory
    return {
        "probe_f": np.stack([t.probe_f for t in trajs]),  # (seeds, S, n_probe)
        "times": trajs[0].snapshot_times,
        "steps": trajs[0].snapshot_steps,
        "risk": np.array([t.risk[-1] for t in trajs]),  # (seeds,) final training risk
    }


def _times(cfg: RVEFluctuationsConfig, times: np.ndarray, R: np.ndarray) -> tuple:
    """The early and late snapshot indices (None when never reached) from the seed-mean probe risks R (widths, S).

    Early: the first t > 0 where every width's R(t) <= ``early_fraction`` R(0). Late: the first snapshot after the
    early one where every width's decay rate -d log R / d log t since the previous snapshot is <= ``converged_rate``.
    Also returns the slowest width's R(t)/R(0) and decay rate, (S,) each (rate nan at the first two snapshots).
    """
    worst = np.max(R / R[:, :1], axis=0)  # (S,)
    rate = np.full(len(times), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        dlog = np.log(R[:, :-1] / R[:, 1:]) / np.log(times[1:] / times[:-1])  # (widths, S - 1), nan/inf at t = 0
    rate[1:] = dlog.max(axis=0)
    rate[1] = np.nan  # between t = 0 and the first step: no log-time interval
    early = np.flatnonzero((worst <= cfg.early_fraction) & (times > 0))
    j_early = int(early[0]) if early.size else None
    late = np.flatnonzero((rate <= cfg.converged_rate) & (np.arange(len(times)) > (j_early or 0)))
    j_late = int(late[0]) if (late.size and j_early is not None) else None
    return j_early, j_late, worst, rate


def _at(fits: list, times: np.ndarray, j: int | None, missing: str) -> tuple:
    """(exponent, CI, "t = ...", note) of the fit at snapshot j; nan, "never reached" and ``missing`` without one."""
    if j is None:
        return float("nan"), (float("nan"), float("nan")), "never reached", missing
    return fits[j].slope, (fits[j].lo, fits[j].hi), f"t = {times[j]:.4g}", None


@register
class RVEFluctuations(Experiment):
    name = "rve-fluctuations"
    title = "Fluctuations of f_n across seeds: n^{-1/2} at early times, self-healing at long times"
    reference = _SOURCE
    description = __doc__
    Config = RVEFluctuationsConfig
    cost = 70  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        "full": {
            "n_values": (16, 32, 64, 128, 256),
            "seeds": 20,
            "steps": 20000,
            "n_train": 4096,
            "n_probe": 10000,
            "n_times": 32,
        },
    }
    captions = {
        "rve_fluctuations": Caption(
            "Spread of the trained functions f_n across seeds against the width n at several flow times (left) "
            "and the fitted exponent against mean-field time with its 95% interval (right), beside the exponents "
            "the claims test: -1/2 at the early time (CLT) and -1 at the converged time (self-healing); t = 0, the "
            "i.i.d. draw, is the null.",
            claims=("early_exponent", "late_exponent", "late_below_clt"),
        )
    }

    def run(self, cfg: RVEFluctuationsConfig, ctx) -> ExperimentResult:
        f = ThreeSpin.random(cfg.d, seed=cfg.target_seed + 1000 * ctx.seed)
        x = f.sampler()(cfg.n_train, generator=torch.Generator().manual_seed(cfg.target_seed + 1), dtype=torch.float64)
        obj = DatasetRisk(x, f(x))
        probe = f.sampler()(
            cfg.n_probe, generator=torch.Generator().manual_seed(cfg.target_seed + 2), dtype=torch.float64
        )
        y_probe = f(probe).numpy()  # (n_probe,)
        unit = RBFSphere(cfg.d)
        snaps = np.unique(np.geomspace(1, cfg.steps, cfg.n_times).round().astype(int))
        flow = FlowConfig(
            eta=cfg.eta,
            eta_inner=cfg.eta_inner,
            steps=cfg.steps,
            risk_every=cfg.steps,
            snapshot_steps=tuple(map(int, snaps)),
        )

        ns, dev, risk, curves = [], [], {}, []
        for n in cfg.n_values:
            st = ctx.stage(f"fluct-n{n}", lambda n=n: _seeds_as_ensemble(cfg, ctx, obj, flow, unit, probe, n))
            F = st["probe_f"]  # (seeds, S, n_probe)
            # (seeds, S): y_s(t). Deviations from the ensemble mean shrink by sqrt(1 - 1/seeds) at every n
            # (no effect on the slope); they share that mean, a correlation of order 1/seeds between seeds.
            dev.append(np.sqrt(((F - F.mean(0)) ** 2).mean(-1)))
            curves.append(0.5 * ((F - y_probe) ** 2).mean((0, 2)))  # (S,) seed-mean probe risk R_n(t)
            ns += [n] * cfg.seeds
            risk[n] = float(np.mean(st["risk"]))
        times = np.asarray(st["times"], dtype=float)
        dev, ns = np.concatenate(dev), np.array(ns)  # (len(n_values) * seeds, S), (len(n_values) * seeds,)
        # each seed draws its own particles at each width (no realisation is shared across n): Welch t over levels
        fits = [fit_power_law(ns, dev[:, j]) for j in range(len(times))]
        j_early, j_late, worst, rate = _times(cfg, times, np.array(curves))
        claims = self._claims(cfg, fits, times, j_early, j_late, worst, rate)
        early = fits[j_early] if j_early is not None else None
        late = fits[j_late] if j_late is not None else None
        metrics: dict[str, float] = {
            "early_time": float(times[j_early]) if early else float("nan"),
            "early_risk_ratio": worst[j_early] if early else float(worst.min()),
            "late_time": float(times[j_late]) if late else float("nan"),
            "final_risk_ratio": float(worst[-1]),
            "final_decay_rate": float(rate[-1]),
        }
        for key, fit in (("t0", fits[0]), ("early", early), ("late", late), ("final", fits[-1])):
            for part in ("slope", "lo", "hi"):
                metrics[f"{key}_{part}"] = getattr(fit, part) if fit else float("nan")
        metrics.update({f"slope_t{t:.4g}": fit.slope for t, fit in zip(times, fits)})
        metrics.update({f"train_risk_n{n}": r for n, r in risk.items()})
        figure = self._figure(ctx, dict(zip(times.tolist(), fits)), times, j_early, j_late)
        return ExperimentResult(claims, metrics, figure)

    @staticmethod
    def _claims(cfg, fits, times, j_early, j_late, worst, rate) -> list:
        t0 = fits[0]
        null = Null(_NULL, t0.slope, (t0.lo, t0.hi))
        early_est, early_ci, when, early_note = _at(
            fits,
            times,
            j_early,
            f"the probe risk never fell to {cfg.early_fraction:g} x its initial value "
            f"(lowest ratio {worst.min():.3g}): no early flow time",
        )
        if j_early is not None and within(t0.lo, t0.hi, -0.5, cfg.early_delta):
            early_note = "the t = 0 draw passes the same rule: the CLT holds there by construction"
        late_est, late_ci, late_when, late_note = _at(
            fits,
            times,
            j_late,
            f"the flow had not converged by the final time t = {times[-1]:g}: its slowest width's probe risk "
            f"still falls at -dlog R/dlog t = {rate[-1]:.3g} > {cfg.converged_rate:g}",
        )
        converged = (
            f"at the converged time ({late_when}: first snapshot where every width's probe risk falls by "
            f"<= {cfg.converged_rate:g} per e-fold of t)"
        )
        common = {"null": null, "method": "welch-slope", "control": f"final time t = {times[-1]:g}: {fits[-1]}"}
        return [
            claim_ci_within(
                "early_exponent",
                f"at the early flow time ({when}: first snapshot where every width's probe risk is "
                f"<= {cfg.early_fraction:g} x R(0)) the spread across seeds ~ n^s with s = -1/2 (CLT)",
                early_est,
                early_ci,
                -0.5,
                cfg.early_delta,
                note=early_note,
                source=f"{_SOURCE}: sqrt(n)(mu_n(t) - mu_t) -> Gaussian omega_t at finite t",
                **common,
            ),
            claim_ci_within(
                "late_exponent",
                f"{converged} the fluctuations have self-healed: spread ~ n^s with s = -1",
                late_est,
                late_ci,
                -1.0,
                cfg.late_delta,
                note=late_note,
                source=f"{_SOURCE}: omega_t -> 0 as t -> inf, f_n - f = O(n^-1)",
                **common,
            ),
            claim_ci_below(
                "late_below_clt",
                f"{converged} the spread decays faster than the CLT rate n^-1/2",
                late_est,
                late_ci,
                -0.5,
                note=late_note,
                source=f"{_SOURCE}: self-healing of the fluctuations",
                **common,
            ),
        ]

    @staticmethod
    def _figure(ctx, fits, times, j_early, j_late) -> dict:
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        cmap = plt.get_cmap("viridis")
        shown = sorted(
            {
                0,
                len(times) - 1,
                *([j_early] if j_early is not None else []),
                *([j_late] if j_late is not None else []),
                *np.linspace(0, len(times) - 1, 6).round().astype(int),
            }
        )
        fit_list = list(fits.values())
        for j in shown:
            fit, col = fit_list[j], cmap(j / max(1, len(times) - 1))
            tag = " (early)" if j == j_early else " (converged)" if j == j_late else ""
            label = f"$t$ = {times[j]:.3g}{tag}: {fit.slope:.2f}"
            ax[0].loglog(fit.n, fit.y_mean, "o", color=col, ms=4)
            ax[0].loglog(fit.n, fit.predict(fit.n), "-", color=col, lw=1, label=label)
        n, y0 = fit_list[0].n, fit_list[0].y_mean[0]
        ax[0].loglog(n, y0 * (n / n[0]) ** -0.5, ":", color=COLORS["reference"], label="$n^{-1/2}$ (CLT)")
        ax[0].loglog(n, y0 * (n / n[0]) ** -1.0, "--", color=COLORS["reference"], label="$n^{-1}$ (self-healed)")
        ax[0].set(xlabel="width $n$", ylabel="spread of $f_n$ across seeds", title="fluctuations vs $n$")
        ax[0].legend(fontsize=6)
        pos = times > 0
        t, later = times[pos], [f for f, p in zip(fit_list, pos) if p]
        ax[1].semilogx(t, [f.slope for f in later], "o-", color=COLORS["trained"], label="exponent (95% CI)")
        ax[1].fill_between(t, [f.lo for f in later], [f.hi for f in later], alpha=0.3, color=COLORS["trained"])
        ax[1].axhline(-0.5, color=COLORS["reference"], ls=":", label="$-1/2$ (CLT)")
        ax[1].axhline(-1.0, color=COLORS["reference"], ls="--", label="$-1$ (self-healed)")
        if j_early is not None:
            ax[1].axvline(times[j_early], color=COLORS["theory"], lw=0.8, label="early time")
        if j_late is not None:
            ax[1].axvline(times[j_late], color=COLORS["theory"], lw=0.8, ls="--", label="converged time")
        ax[1].legend(fontsize=7)
        ax[1].set(xlabel="mean-field time $t$", ylabel="exponent of the spread", title="exponent vs time")
        early = f"{fit_list[j_early].slope:.2f}" if j_early is not None else "never reached"
        late = f"{fit_list[j_late].slope:.2f}" if j_late is not None else "never converged"
        fig.suptitle(
            f"spread of $f_n$ across seeds $\\propto n^s$: $s$ = {early} early (CLT $-1/2$), "
            f"{late} once converged (self-healed $-1$)"
        )
        return {"fluctuations": ctx.save_figure("rve_fluctuations", fig)}
