r"""consistency: finite-width flows converge to the mean-field limit at rate n^{-1/2}.

.. math::

    \sup_{t \le T} W_2(\mu_n(t), \bar\mu_n(t)) = O(n^{-1/2}),
    \qquad \bar\mu_n(t) = \tfrac1n \sum_{i \le n} \delta_{\bar\theta_i(t)}

(Sznitman 1991, Thm 1.4: with Lipschitz drifts the synchronous coupling of each particle with its limit
characteristic gives E sup_{t<=T} |theta_i(t) - thetabar_i(t)| <= C_T n^{-1/2}, a rate the CLT of the
fluctuations makes sharp; Mei, Montanari & Nguyen 2018 for two-layer networks. Chizat & Bach 2018,
Thm 2.6, states the consistency without a rate.) A ReLU student learns a
ReLU teacher by gradient descent on the *exact* population risk (no sampling noise), in
mean-field time, for n doubling. The limit mu_t is a reference run of the same flow with
n_ref = ``ref_factor`` max(n) particles among whose initial particles are those of the n-system (a random subset
per width), so the matching row of the reference is the limit characteristic
thetabar_i(t) of particle i; the reference's own error biases the squared distance low by
the factor (1 - n/n_ref) only.

Each seed's reference and its pool of initial particles are observed at every width, so the seed is the
realisation: the exponent is fitted per seed and its 95% interval is a Student t over seeds
(:func:`wgflow.stats.fit_power_law` with ``clusters``, method "cluster-slope"); the ``subsets``
replicates of one seed share its reference and are averaged (geometric mean) into one value per seed and
width. Claims, each judged by the same rule on its null, **the same fit at t = 0 on the i.i.d. sample**:
W2(mu_n(0), mu_ref(0)), the distance of the initial draw to the reference's (what a skeptic offers: the
distance to the limit shrinks only because the initial empirical measure does):

- ``chaos_exponent`` (Sznitman 1991, Thm 1.4): the whole CI of the exponent of sup_t W2(mu_n(t), mubar_n(t))
  (exact OT) lies within -1/2 ± ``delta`` (equivalence; ``delta`` the finite-n corrections, see the config);
  the null's exponent is that of the sampling error in p = d + 1 dimensions (~ -1/p, Fournier & Guillin
  2015), so it fails;
- ``exponent_ci_excludes_zero`` (Chizat & Bach 2018, Thm 2.6, consistency): the CI lies below 0. Its
  null passes too (the initial draw converges to mu_0): a pass, not evidence.

The coupled distance is exactly 0 at t = 0 (the n-system and its reference rows start from the same
particles), so without training (``--untrained``) it stays 0, the fit is undefined (nan) and both claims
fail. The uncoupled W2(mu_n(t), mu_ref(t)) at t > 0 is shown beside them as the control. The first rule
(point estimate within -1/2 ± ``delta``) is the metric ``original_rule_passed``.

The references and each width's seed x subset students run as ensembles (:class:`~wgflow.flows.Ensemble`,
one per width; widths differ, so they cannot share one). The references' (n_ref, n_ref) kernels fill a
block, so :class:`~wgflow.objectives.PopulationRisk` evaluates them one member at a time (as one
batch they would be slower); the students run as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import Domain, Float, Int, Ints
from ...flows import Ensemble, FlowConfig, train
from ...harness import (
    ConfigError,
    Experiment,
    ExperimentResult,
    Null,
    claim_ci_below,
    claim_ci_within,
    register,
)
from ...limits.reference import chaos_distances, nested_init
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import PopulationRisk
from ...plotting.figures import COLORS, LINESTYLES, Caption, _plt
from ...stats import fit_power_law_or_nan, min_detectable_effect
from ...tasks.teacher import ReLUTeacher


@dataclass(frozen=True)
class ConsistencyConfig:
    d: int = 5  # input dimension (particles live in R^{d+1})
    m0: int = 3  # teacher width
    n_values: tuple = (16, 32, 64, 128)  # student widths n (doubling)
    ref_factor: int = 8  # n_ref = ref_factor * max(n): bias of the distance <= 1 - sqrt(1 - 1/ref_factor)
    seeds: int = 10  # independent initialisations (one reference each): the clusters of the exponent's t interval
    subsets: int = 8  # disjoint random subsets of each reference's initial particles per width (replicates)
    eta: float = 0.1  # step in mean-field time (both systems share the Euler scheme: no eta floor)
    T: float = 3.0  # horizon
    n_times: int = 6  # snapshot times, linearly spaced in (0, T]
    w_scale: float = 1.0  # initial w ~ N(0, w_scale^2/d I), c ~ N(0, c_scale^2)
    c_scale: float = 1.0  # initial c ~ N(0, c_scale^2)
    # equivalence margin of chaos_exponent: the whole CI within -1/2 ± delta. The exponent over n = 16..128 is
    # -1/2 up to the finite-n corrections: the reference's own error (<= 1 - sqrt(1 - max(n)/n_ref) = 6.5 %
    # at n_ref = 8 max(n), a tilt <= 0.032) and the O(1/n) next term of E|theta_i - thetabar_i|^2 = C/n (1 + O(1/n))
    # (a relative 1/16 at n = 16, a tilt of order 0.03 over a factor 8 in n), x 3 for the unknown constants.
    # 0.15 is also the tolerance of this claim's first, point-estimate rule.
    delta: float = 0.15

    def validate(self):
        if self.subsets > self.ref_factor:
            raise ConfigError("subsets must be <= ref_factor (disjoint subsets of the reference)")
        if self.eta > self.T:
            raise ConfigError(f"config keys 'eta', 'T': the step {self.eta:g} exceeds the horizon T = {self.T:g}")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "m0": Int(1),
        "n_values": Ints(2, min_len=2, increasing=True),
        "ref_factor": Int(2),
        "seeds": Int(2),  # a confidence interval needs two
        "subsets": Int(1),
        "eta": Float(0, open_lo=True),
        "T": Float(0, open_lo=True),
        "n_times": Int(1),
        "w_scale": Float(0, open_lo=True),
        "c_scale": Float(0, open_lo=True),
        "delta": Float(0, 0.5, open_lo=True),
    }


_SOURCE = "Sznitman 1991, Thm 1.4 (propagation of chaos, synchronous coupling); Mei, Montanari & Nguyen, PNAS 2018"
#: the null of both claims: the same cluster fit of the distance to the limit at t = 0
_NULL = "the same fit on the t = 0 i.i.d. sample: W2(mu_n(0), mu_ref(0)), the initial draw against the reference's"


@register
class Consistency(Experiment):
    name = "consistency"
    title = "Consistency between finite and infinite width: W2 to the mean-field limit ~ n^{-1/2}"
    reference = "Chizat & Bach, NeurIPS 2018, Thm 2.6 (consistency); Sznitman 1991, Thm 1.4 (the n^{-1/2} rate)"
    description = __doc__
    Config = ConsistencyConfig
    cost = 65  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        # six doublings to n = 512 over T = 10 at d = 10. The references' (n_ref, n_ref) kernels are the cost
        # (quadratic in n_ref): n_ref = 8 max(n) = 4096, the quick preset's factor with the bias its delta
        # allows for, keeps the preset within two hours on one core
        "full": {
            "n_values": (16, 32, 64, 128, 256, 512),
            "ref_factor": 8,
            "seeds": 10,
            "T": 10.0,
            "eta": 0.05,
            "n_times": 10,
            "d": 10,
        },
    }
    captions = {
        "consistency_scaling": Caption(
            "The distance between n particles and their mean-field limit characteristics, sup over t <= T of "
            "W2, against n beside the n^{-1/2} rate the claim tests (left, coupled; the uncoupled distance to the "
            "reference is the control); the "
            "same at fixed times (middle); the population risk of each width (right, seed 0).",
            claims=("chaos_exponent", "exponent_ci_excludes_zero"),
        )
    }

    def run(self, cfg: ConsistencyConfig, ctx) -> ExperimentResult:
        teacher = ReLUTeacher.random(cfg.d, cfg.m0, generator=torch.Generator().manual_seed(10_000 + ctx.seed))
        obj = PopulationRisk(teacher)
        n_ref = cfg.ref_factor * max(cfg.n_values)
        steps = int(round(cfg.T / cfg.eta))
        snap = tuple(int(round(s)) for s in np.linspace(0, steps, cfg.n_times + 1)[1:])
        flow = FlowConfig(eta=cfg.eta, steps=steps, snapshot_steps=snap, risk_every=max(1, steps // 10))

        pairs = [(s, j) for s in range(cfg.seeds) for j in range(cfg.subsets)]
        systems = lambda n, members: _systems(cfg, ctx, obj, flow, n, members)
        refs = ctx.stage(f"reference-n{n_ref}", lambda: systems(n_ref, [(s, 0) for s in range(cfg.seeds)]))
        students = {n: ctx.stage(f"students-n{n}", lambda n=n: systems(n, pairs)) for n in cfg.n_values}
        member = lambda st, e: {k: v[e] if k in ("snapshots", "risk") else v for k, v in st.items()}
        ns, sup_c, sup_u, u0, per_time, ns_u = [], [], [], [], [], []
        risk_curves = {}
        for seed in range(cfg.seeds):
            ref = member(refs, seed)
            risk_curves[(n_ref, seed)] = ref["risk"]
            pos = np.asarray(ref["times"]) > 0
            for n in cfg.n_values:
                coupled = []  # (subsets, S+) coupled W2 at the positive snapshot times
                for j in range(cfg.subsets):
                    run = member(students[n], pairs.index((seed, j)))
                    risk_curves[(n, seed)] = run["risk"]
                    dist = ctx.stage(
                        f"distances-n{n}-seed{seed}-sub{j}",
                        lambda run=run, ref=ref, n=n, s=seed, j=j: chaos_distances(
                            run["snapshots"],
                            ref["snapshots"][:, _subset(ctx.seed, n_ref, n, s, j).numpy()],
                            uncoupled=j == 0,
                        ),
                    )
                    coupled.append(dist["coupled"][pos])
                    if j == 0:
                        ns_u.append(n)
                        sup_u.append(dist["uncoupled"][pos].max())
                        u0.append(dist["uncoupled"][~pos][0])  # t = 0: the i.i.d. draw against the reference's
                ns.append(n)
                sup_c.append(_geomean(np.max(coupled, axis=1)))  # one realisation per (seed, n)
                per_time.append(_geomean(np.array(coupled), axis=0))
        times = np.asarray(ref["times"])[np.asarray(ref["times"]) > 0]
        ns, sup_c, per_time, ns_u, sup_u, u0 = (np.array(v) for v in (ns, sup_c, per_time, ns_u, sup_u, u0))
        # seed s's reference and its pool of initial particles are observed at every width: the seed is the cluster
        seeds = np.repeat(np.arange(cfg.seeds), len(cfg.n_values))  # (seeds * len(n_values),), seed-major like ns
        # the coupled distance is 0 at t = 0; a value at rounding level means the particles never moved
        floor = 1e-9 * float(np.sqrt((ref["snapshots"][0] ** 2).sum(-1).mean()))
        fit = fit_power_law_or_nan(ns, sup_c, floor=floor, clusters=seeds)
        fit_u = fit_power_law_or_nan(ns_u, sup_u, clusters=seeds)
        fit_0 = fit_power_law_or_nan(ns_u, u0, clusters=seeds)
        fits_t = [fit_power_law_or_nan(ns, per_time[:, j], floor=floor, clusters=seeds) for j in range(len(times))]
        claims, metrics = self._verdicts(cfg, fit, fit_u, fit_0, fits_t, times, n_ref)
        artifacts = self._figures(
            cfg, ctx, ns, sup_c, ns_u, sup_u, fit, fit_u, times, per_time, fits_t, risk_curves, ref["risk_times"], n_ref
        )
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _verdicts(cfg: ConsistencyConfig, fit, fit_u, fit_0, fits_t, times, n_ref: int) -> tuple[list, dict]:
        """Claims and metrics from the coupled (``fit``), uncoupled (``fit_u``) and t = 0 (``fit_0``) fits."""
        control = f"uncoupled W2(mu_n(t), mu_ref(t)) at t > 0, set by the i.i.d. initial draw: {fit_u}"
        note = None if np.isfinite(fit.slope) else "the coupled distance is 0 (at rounding level): no flow to compare"
        null = Null(_NULL, fit_0.slope, (fit_0.lo, fit_0.hi))
        power = f"interval width {fit.hi - fit.lo:.3g}; smallest detectable exponent {min_detectable_effect(fit.se, fit.df):.3g}"
        claims = [
            claim_ci_within(
                "chaos_exponent",
                "sup_{t<=T} W2(mu_n(t), mubar_n(t)) ~ n^s with s = -1/2 (coupled to "
                "the limit characteristics of the same initial particles, exact OT; 0 at t = 0)",
                fit.slope,
                (fit.lo, fit.hi),
                -0.5,
                cfg.delta,
                source=f"{_SOURCE}: E sup_t |theta_i(t) - thetabar_i(t)| <= C n^(-1/2), sharp by the fluctuation CLT",
                control=control,
                note=note,
                null=null,
                method="cluster-slope",
                power=power,
            ),
            claim_ci_below(
                "exponent_ci_excludes_zero",
                "the coupled distance to the limit decreases with n (consistency)",
                fit.slope,
                (fit.lo, fit.hi),
                0.0,
                source="Chizat & Bach, NeurIPS 2018, Thm 2.6: W2(mu_n(t), mu_t) -> 0 uniformly on [0, T]",
                control=control,
                note=note,
                null=null,
                method="cluster-slope",
                power=power,
            ),
        ]
        metrics = {
            "slope": fit.slope,
            "slope_lo": fit.lo,
            "slope_hi": fit.hi,
            "n_ref": n_ref,
            "uncoupled_slope": fit_u.slope,
            "uncoupled_lo": fit_u.lo,
            "uncoupled_hi": fit_u.hi,
            "t0_slope": fit_0.slope,
            "t0_lo": fit_0.lo,
            "t0_hi": fit_0.hi,
            "reference_bias_bound": 1 - np.sqrt(1 - max(cfg.n_values) / n_ref),
            "original_rule_passed": float(abs(fit.slope + 0.5) <= cfg.delta),
        }
        for t, f in zip(times, fits_t):
            metrics[f"slope_t{t:.3g}"] = f.slope
        for n, y in zip(fit.n, fit.y_mean):
            metrics[f"sup_w2_n{int(n)}"] = float(y)
        return claims, metrics

    @staticmethod
    def _figures(cfg, ctx, ns, sup_c, ns_u, sup_u, fit, fit_u, times, per_time, fits_t, risk_curves, risk_times, n_ref):
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(1, 3, figsize=(13, 3.9), layout="constrained")
        series = ((ns, sup_c, fit, "coupled", "trained"), (ns_u, sup_u, fit_u, "uncoupled (control)", "control"))
        for x, y, f, lab, role in series:
            ax[0].loglog(x[y > 0], y[y > 0], ".", alpha=0.5, color=COLORS[role])  # the control's coupled W2 is 0
            if np.isfinite(f.slope):  # nan: the control's coupled distance is 0
                ax[0].loglog(
                    f.n,
                    f.predict(f.n),
                    LINESTYLES[role],
                    color=COLORS[role],
                    label=f"{lab}: {f.slope:.2f} [{f.lo:.2f}, {f.hi:.2f}]",
                )
        if np.isfinite(fit.slope):
            ref = fit.y_mean[0] * (fit.n / fit.n[0]) ** -0.5
            ax[0].loglog(fit.n, ref, LINESTYLES["theory"], color=COLORS["theory"], label="$n^{-1/2}$ (theory)")
        ax[0].set(
            xlabel="width $n$", ylabel=r"$\sup_{t \leq T} W_2$", title=f"distance to the limit ($n_{{ref}}$ = {n_ref})"
        )
        ax[0].legend(fontsize=7)
        for j, t in enumerate(times):
            m = [_geomean(per_time[ns == n, j]) for n in cfg.n_values]
            if not np.all(np.asarray(m) > 0):
                continue
            ax[1].loglog(cfg.n_values, m, "o-", ms=3, label=f"$t$ = {t:.2g}: slope {fits_t[j].slope:.2f}")
        ax[1].set(xlabel="width $n$", ylabel=r"coupled $W_2(\mu_n(t), \bar{\mu}_n(t))$", title="at fixed times")
        if ax[1].lines:
            ax[1].legend(fontsize=7)
        for n in (*cfg.n_values, n_ref):
            ax[2].semilogy(risk_times, risk_curves[(n, 0)], lw=1, label=f"$n$ = {n}")
        ax[2].set(xlabel="mean-field time $t$", ylabel=r"population risk $R(\mu_t)$", title="risk (seed 0)")
        ax[2].legend(fontsize=7)
        fig.suptitle(
            f"$W_2$ to the mean-field limit $\\propto n^{{{fit.slope:.2f}}}$, CI [{fit.lo:.2f}, {fit.hi:.2f}]; theory $n^{{-1/2}}$"
        )
        return {"scaling": ctx.save_figure("consistency_scaling", fig)}


def _subset(run_seed: int, n_ref: int, n: int, seed: int, j: int) -> torch.Tensor:
    """Replicate j: a random subset of the reference's initial particles, disjoint from the other
    replicates of (n, seed); still i.i.d. from mu_0 and nested in the reference, and the widths do
    not share their first rows. Returned as a permutation of range(n_ref) whose first n rows are it."""
    g = torch.Generator().manual_seed(104_729 * run_seed + 7919 * seed + n)
    perm = torch.randperm(n_ref, generator=g)
    return torch.cat([perm[j * n :], perm[: j * n]])


def _systems(cfg: ConsistencyConfig, ctx, obj, flow: FlowConfig, n: int, members: list[tuple[int, int]]) -> dict:
    """The (seed, subset) systems of width n as one ensemble (no noise: no random stream is used).

    Member (seed, j) starts from replicate j of seed's reference particles (all of them at n = n_ref).
    """
    unit, n_ref = ReLU(cfg.d), cfg.ref_factor * max(cfg.n_values)
    thetas = []
    for s, j in members:
        g = torch.Generator().manual_seed(1000 * ctx.seed + s)
        theta = nested_init(unit, n_ref, generator=g, w_scale=cfg.w_scale, c_scale=cfg.c_scale)
        thetas.append(theta[_subset(ctx.seed, n_ref, n, s, j)[:n]] if n < n_ref else theta)
    trajs = train(
        Ensemble.stack([ParticleMeasure(t, unit) for t in thetas]),
        [obj] * len(members),
        flow,
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"consistency-n{n}"),
    )
    ctx.save_trajectory(f"trajectory_consistency-n{n}", trajs[0])  # the first member: wgflow.interop.load_trajectory
    return {
        "snapshots": np.stack([t.snapshots for t in trajs]),  # (members, S, n, d + 1)
        "times": trajs[0].snapshot_times,
        "risk": np.stack([t.risk for t in trajs]),  # (members, R)
        "risk_times": trajs[0].risk_times,
    }


def _geomean(y, axis=None):
    with np.errstate(divide="ignore"):
        return np.exp(np.log(np.asarray(y, dtype=float)).mean(axis=axis))
