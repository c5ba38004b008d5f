r"""mmn-gaussians: N-unit gradient descent on isotropic Gaussians against the 1-D radial PDE.

.. math::

    \partial_t \bar\rho_t = \partial_r(\bar\rho_t \partial_r \psi(r; \bar\rho_t))   (wgflow.limits.radial)

Mei, Montanari & Nguyen (PNAS 2018) reduce the mean-field limit of a two-layer network on
the isotropic-Gaussians task (y = ±1, x | y ~ N(0, (1 ± Delta)^2 I_d), frozen output weights,
piecewise-linear activation) to a PDE for the law of r = |w|, and compare its solution with
histograms of |w_i| under SGD. Here the limit is solved on a grid (finite volumes, no
particles), the particle systems run in the same mean-field time (our step eta is MMN's
2 s_k), with the exact population gradient by default (``batch_size = 0``; P > 0 is online
SGD with P fresh samples, whose noise adds an O(sqrt(eta/P)) floor that does not shrink with N).

Claims. Each is judged by one rule on the particles and on its null, the same statistic on what a
skeptic offers instead; intervals are Student t over seeds (means) or Welch t over the per-N means of
log y (exponents: every (N, seed) draws its own initialisation, so no realisation is shared across N).
Every claim fails with training switched off (``--untrained``).

1. ``risk_gap_rate``: sup over t >= ``gap_t_min`` of |R_N(t) - R_PDE(t)| ~ N^s, the interval within
   -1 ± ``gap_delta`` (MMN: R_N = R + O(1/N), the self-interaction bias (1/2N)(\int U(w, w) drho -
   \iint U drho drho) > 0 dominating the O(N^{-1/2}) fluctuations). t = 0 is outside the window: there
   the gap is the static bias of any N-sample. Null: the particles frozen at t = 0 against R_PDE(t).
2. ``w2_rate``: max over the histogram times of W2(law of |w_i|, PDE law) ~ N^s, the interval within
   -1/2 ± ``w2_delta``. Null: the t = 0 sample, W2(|w|_N(0), rhobar_0) -- i.i.d. sampling has this
   exponent by construction, so the null passes too and the claim is no evidence of the flow alone.
3. ``tracks_pde_beyond_floor``: the evidence that the particles follow the PDE. At every histogram
   time t, W2(|w|_N(t), rhobar_t) is compared with the *sampling floor* of rhobar_t: the mean W2
   between two independent N-samples of rhobar_t (Monte Carlo, ``floor_pairs`` pairs). An i.i.d.
   sample of rhobar_t scores ~ 1/sqrt 2 of the floor; the claim asks max_t W2 / floor < 1 at every N
   (the interval's upper end, at the N where it reaches highest). Null: the particles frozen at t = 0.
4. ``moved_beyond_floor``: the particles' own law moved, W2(|w|_N(0), |w|_N(T)), by more than
   ``floor_factor`` times the floor between two independent *initial* N-samples, at the smallest N
   (largest floor): the agreement of 3 is not the agreement of two samples of one law. Null: a fresh
   initial N-sample in place of the particles at T.
5. ``sgd_tracks_pde``: MMN's comparison proper, online SGD (``sgd_batch`` fresh samples per step) at
   the largest N, scored like 3 (its noise adds a bias O(eta / P) per unit time that does not
   shrink with N, so this is a statement about the chosen P). Null: the SGD run's particles frozen
   at t = 0. Control: the exact-gradient flow at the same N and steps.

The per-time W2 exponents and the t = 0 gap's exponent are reported as metrics.

Each N's seeds run as one ensemble, the exact risk batched (:class:`~wgflow.tasks.IsotropicGaussiansRisk`:
members grouped so their (N, N) matrices fit a block); in online SGD each member draws its own samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import Domain, Float, Floats, Int, Ints
from ...flows import Ensemble, FlowConfig, train
from ...harness import ConfigError, Experiment, ExperimentResult, register
from ...limits.radial import RadialModel, RadialSolution, chi_radial_masses, solve_radial
from ...measures.measure import ParticleMeasure
from ...measures.units import PiecewiseLinear
from ...stats import fit_power_law, mean_ci
from ...tasks.gaussians import IsotropicGaussians, IsotropicGaussiansRisk
from ...transport import wasserstein
from .claims import flow_claims, run_metrics, sgd_run_claim, track_ratios
from .figures import CAPTIONS, figures


@dataclass(frozen=True)
class MMNGaussiansConfig:
    d: int = 40  # input dimension
    delta: float = 0.8  # class scales 1 ± delta
    r0: float = 0.8  # initial law w ~ N(0, r0^2/d I_d), i.e. |w| ~ r0 chi_d / sqrt(d)
    t1: float = 0.5  # activation s: s1 below t1, s2 above t2, linear between (MMN's values)
    t2: float = 1.5  # upper kink of s
    s1: float = -2.5  # value of s below t1
    s2: float = 7.5  # value of s above t2
    K: int = 8  # Hermite order of the interaction kernel (particles and PDE alike)
    n_values: tuple = (32, 64, 128, 256)  # widths N (the exact gradient costs O(seeds N^2) per step)
    seeds: int = 20  # independent initialisations per N (>= 20: the rate claims' Welch slopes)
    eta: float = 0.005  # step in mean-field time (Euler error ~0.26 eta in |w| at t = 0.25, below the N-gaps)
    T: float = 1.0  # horizon in mean-field time
    batch_size: int = 0  # 0: exact population gradient; P > 0: online SGD with P fresh samples
    hist_times: tuple = (0.25, 0.5, 1.0)  # times of the |w| histograms and W2 comparisons
    risk_every: int = 10  # particle risk every this many steps
    cells: int = 800  # PDE grid cells on [0, r_max]
    r_max: float = 4.0  # right end of the PDE grid
    cfl: float = 0.4  # CFL number of the PDE step: dt = cfl h / max|v|
    sgd_batch: int = 32  # claim 5: online SGD with this many fresh samples per step at the largest N (0: skip)
    floor_pairs: int = 64  # independent sample pairs of the Monte Carlo sampling floors (claims 3-5)
    floor_factor: float = 10.0  # claim 4: the particles' law moves by more than this x the initial floor
    gap_t_min: float = 0.25  # claim 1: the risk gap's sup runs over t >= this (t = 0 holds the static 1/N bias)
    # claims 1-2: equivalence margins of the exponents, half the spacing of the candidate rates 0, -1/2, -1,
    # so a pass excludes the neighbouring rate
    gap_delta: float = 0.25  # claim 1: CI within -1 ± this (excludes the N^-1/2 fluctuation rate)
    w2_delta: float = 0.25  # claim 2: CI within -1/2 ± this (excludes 0 and 1/N)

    def validate(self):
        if not all(t <= self.T for t in self.hist_times):
            raise ConfigError("hist_times must lie in (0, T]")
        if self.gap_t_min >= self.T:
            raise ConfigError(f"config keys 'gap_t_min', 'T': the gap window t >= {self.gap_t_min:g} is empty")
        if not self.t1 < self.t2:
            raise ConfigError(f"config keys 't1', 't2': need t1 < t2, got {self.t1:g} and {self.t2:g}")
        if self.eta > self.T:
            raise ConfigError(f"config keys 'eta', 'T': the step {self.eta:g} exceeds the horizon T = {self.T:g}")

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(1),
        "delta": Float(0, 1, open_lo=True, open_hi=True),
        "r0": Float(0, open_lo=True),
        "t1": Float(),
        "t2": Float(),
        "s1": Float(),
        "s2": Float(),
        "K": Int(1, 64),
        "n_values": Ints(2, min_len=2, increasing=True),
        "seeds": Int(2),
        "eta": Float(0, open_lo=True),
        "T": Float(0, open_lo=True),
        "batch_size": Int(0),
        "hist_times": Floats(0, open_lo=True, increasing=True),
        "risk_every": Int(1),
        "cells": Int(2),
        "r_max": Float(0, open_lo=True),
        "cfl": Float(0, 1, open_lo=True),
        "sgd_batch": Int(0),
        "floor_pairs": Int(2),
        "floor_factor": Float(1, open_lo=True),
        "gap_t_min": Float(0, open_lo=True),
        "gap_delta": Float(0, 0.5, open_lo=True),
        "w2_delta": Float(0, 0.5, open_lo=True),
    }


@register
class MMNGaussians(Experiment):
    name = "mmn-gaussians"
    title = "SGD on isotropic Gaussians converges to the 1-D radial PDE"
    reference = "Mei, Montanari & Nguyen, PNAS 2018 (isotropic Gaussians)"
    description = __doc__
    Config = MMNGaussiansConfig
    cost = 85  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        "full": {
            "n_values": (64, 128, 256, 512, 1024, 2048),
            "seeds": 20,
            "T": 4.0,
            "eta": 0.0025,
            "hist_times": (0.25, 1.0, 4.0),
            "cells": 1600,
        },
    }
    captions = CAPTIONS

    def run(self, cfg: MMNGaussiansConfig, ctx) -> ExperimentResult:
        task = IsotropicGaussians(cfg.d, cfg.delta)
        unit = PiecewiseLinear(cfg.d, cfg.t1, cfg.t2, cfg.s1, cfg.s2)
        obj = IsotropicGaussiansRisk(task, cfg.K)
        steps = int(round(cfg.T / cfg.eta))
        hist_steps = tuple(int(round(t / cfg.eta)) for t in cfg.hist_times)
        flow = FlowConfig(
            eta=cfg.eta,
            steps=steps,
            eta_output=0.0,
            risk_every=cfg.risk_every,
            snapshot_steps=hist_steps,
            batch_size=cfg.batch_size or None,
        )

        def particles(n: int, batch: int | None, key: str) -> list[dict]:  # the seeds at width n: one ensemble
            st = ctx.stage(key, lambda: _particles(cfg, ctx, obj, dataclasses.replace(flow, batch_size=batch), unit, n))
            return [{k: v[s] if k in ("risk", "r") else v for k, v in st.items()} for s in range(cfg.seeds)]

        runs = {(n, s): r for n in cfg.n_values for s, r in enumerate(particles(n, flow.batch_size, f"particles-n{n}"))}
        n_big = max(cfg.n_values)
        sgd = particles(n_big, cfg.sgd_batch, f"sgd-n{n_big}-P{cfg.sgd_batch}") if cfg.sgd_batch else []

        # --- the limit: one PDE solve at the particles' risk times and histogram times
        t_risk = np.asarray(runs[(cfg.n_values[0], 0)]["risk_times"], dtype=float)
        t_hist = np.asarray(hist_steps, dtype=float) * cfg.eta
        times = np.unique(np.concatenate([[0.0], t_risk, t_hist]))
        sol = _pde_solution(cfg, ctx, task, unit, times)
        idx_hist = np.searchsorted(sol.times, t_hist - 1e-12)
        R_pde = sol.risk[np.searchsorted(sol.times, t_risk - 1e-12)]
        laws = [sol.points(int(np.searchsorted(sol.times, 0.0)), sub=8)] + [sol.points(j, sub=8) for j in idx_hist]
        floors = _sampling_floors(cfg, laws, np.random.default_rng(10_000 + ctx.seed))
        d = {key: _distances(run, laws, hist_steps) for key, run in runs.items()}
        d_sgd = [_distances(run, laws, hist_steps) for run in sgd]
        ns = np.array([n for n, _ in runs])
        window = t_risk >= cfg.gap_t_min - 1e-12  # claim 1's registered window of times
        gaps = {
            "gap": [np.max(np.abs(run["risk"] - R_pde)[window]) for run in runs.values()],
            "gap_frozen": [np.max(np.abs(run["risk"][0] - R_pde)[window]) for run in runs.values()],  # the null
            "gap_t0": [abs(run["risk"][0] - R_pde[0]) for run in runs.values()],  # static bias of the sample
        }
        moved_pde = [wasserstein(laws[0][0], x, laws[0][1], a, method="1d") for x, a in laws[1:]]
        fresh = _fresh_initial(cfg, [runs[(min(cfg.n_values), s)] for s in range(cfg.seeds)], ctx.seed)
        claims, metrics = self._judge(cfg, ns, gaps, d, d_sgd, floors, (fresh, moved_pde[-1]))
        metrics.update({f"pde_moved_t{t:g}": m for t, m in zip(cfg.hist_times, moved_pde)})
        metrics.update(
            {
                "pde_steps": sol.steps,
                "pde_mass_error": float(np.abs(sol.mass.sum(1) - 1).max()),
                "risk_pde_final": float(sol.risk[-1]),
            }
        )
        w2_sup = np.array([v["to_pde"].max() for v in d.values()])
        gap = np.asarray(gaps["gap"])
        artifacts = self._figures(cfg, ctx, runs, sgd, sol, t_risk, idx_hist, hist_steps, ns, gap, w2_sup)
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _judge(cfg, ns, gaps: dict, d, d_sgd, floors, moved: tuple) -> tuple[list, dict]:
        # seeds draw independent initialisations at every N (_particles): Welch slopes, no clusters
        fit = lambda y: fit_power_law(ns, np.asarray(y))
        fits = {key: fit(y) for key, y in gaps.items()}
        fits["w2"] = fit([v["to_pde"].max() for v in d.values()])
        fits["w2_t0"] = fit([v["init_to_pde0"] for v in d.values()])
        per_n, track, track_ctl = track_ratios(cfg, d, floors)
        n_small = min(cfg.n_values)
        fresh, moved_pde = moved
        floor0 = floors[n_small]["0"]
        moved_ci = mean_ci([v["moved"][-1] / floor0 for v in per_n[n_small]])
        moved_null = mean_ci(np.asarray(fresh) / floor0)
        claims = flow_claims(cfg, fits, (track, track_ctl), (moved_ci, moved_null, moved_pde), floors)
        metrics = run_metrics(cfg, fit, d, fits, (track, track_ctl), floors)
        metrics["moved_over_floor0"] = moved_ci.mean
        if d_sgd:
            sgd_claim, metrics["sgd_track_ratio"] = sgd_run_claim(cfg, d_sgd, floors, (track, track_ctl))
            claims.append(sgd_claim)
        return claims, metrics

    @staticmethod
    def _figures(cfg, ctx, runs, sgd, sol, t_risk, idx_hist, hist_steps, ns, gaps, w2_sup):
        return figures(cfg, ctx, runs, sgd, sol, t_risk, idx_hist, hist_steps, ns, gaps, w2_sup)


def _particles(cfg: MMNGaussiansConfig, ctx, obj, flow: FlowConfig, unit, n: int) -> dict:
    """The ``seeds`` particle systems of width n as one ensemble: risk (seeds, R), |w_i| at the snapshots r (seeds, S, n).

    Independent draws for every (N, seed): a generator shared across N would nest the samples
    (torch.randn's first rows coincide) and correlate the N-dependence the fits measure. Member s
    draws its minibatches (online SGD) from its own stream, seed s.
    """
    thetas = []
    for seed in range(cfg.seeds):
        g = torch.Generator().manual_seed(1_000_003 * ctx.seed + 1009 * seed + n)
        theta = unit.init(n, generator=g, dtype=torch.float64, w_scale=cfg.r0)
        theta[:, 0] = 1.0  # MMN: no output weight (frozen by eta_output = 0)
        thetas.append(ParticleMeasure(theta, unit))
    trajs = train(
        Ensemble.stack(thetas),
        [obj] * cfg.seeds,
        flow,
        seed=list(range(cfg.seeds)),
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"mmn-n{n}-P{flow.batch_size or 0}"),
    )
    return {
        "risk_times": trajs[0].risk_times,
        "risk": np.stack([t.risk for t in trajs]),
        "snap_steps": trajs[0].snapshot_steps,
        "r": np.stack([np.linalg.norm(t.snapshots[:, :, 1:], axis=2) for t in trajs]),  # snapshots at 0, hist_steps
    }


def _distances(run: dict, laws: list, hist_steps: tuple) -> dict:
    """1-D W2 of one particle run's |w| laws: to the PDE at the histogram times, and the controls.

    ``laws``: [(x, a)] weighted points of rhobar at t = 0 and at each histogram time.
    """
    snap = {int(k): i for i, k in enumerate(run["snap_steps"])}
    r0 = run["r"][snap[0]]
    rt = [run["r"][snap[k]] for k in hist_steps]
    w2 = lambda u, law: wasserstein(u, law[0], None, law[1], method="1d")
    return {
        "to_pde": np.array([w2(r, law) for r, law in zip(rt, laws[1:])]),  # (H,)
        "init_to_pde": np.array([w2(r0, law) for law in laws[1:]]),  # (H,) control: untrained particles
        "init_to_pde0": w2(r0, laws[0]),  # t = 0 sampling error
        "moved": np.array([wasserstein(r0, r, method="1d") for r in rt]),
    }  # (H,) the particles' own motion


def _fresh_initial(cfg: MMNGaussiansConfig, runs: list, seed: int) -> list[float]:
    """Per run, W2 between its t = 0 |w| and an independent initial sample of the same size (claim 4's null)."""
    rng = np.random.default_rng(20_000 + seed)
    out = []
    for run in runs:
        r0 = run["r"][list(run["snap_steps"]).index(0)]
        out.append(wasserstein(r0, cfg.r0 * np.sqrt(rng.chisquare(cfg.d, r0.size) / cfg.d), method="1d"))
    return out


def _sampling_floors(cfg, laws: list, rng: np.random.Generator) -> dict:
    """Mean W2 between two independent N-samples: of the initial law ("0") and of rhobar_t ("t", (H,))."""

    def floor(draw, n):
        return np.mean([wasserstein(draw(n), draw(n), method="1d") for _ in range(cfg.floor_pairs)])

    init = lambda n: cfg.r0 * np.sqrt(rng.chisquare(cfg.d, n) / cfg.d)  # |w|, w ~ N(0, r0^2/d I_d)
    out = {}
    for n in cfg.n_values:
        at_t = [floor(lambda m, x=x, a=a: rng.choice(x, m, p=a), n) for x, a in laws[1:]]
        out[n] = {"0": floor(init, n), "t": np.array(at_t)}
    return out


def _pde_solution(cfg: MMNGaussiansConfig, ctx, task, unit, times: np.ndarray) -> RadialSolution:
    """The limit: one solve of the radial PDE at ``times`` (the particles' risk and histogram times), a stage."""
    edges = np.linspace(0.0, cfg.r_max, cfg.cells + 1)

    def pde() -> dict:
        sol = solve_radial(
            RadialModel(task, unit, cfg.K), chi_radial_masses(edges, cfg.d, cfg.r0), edges, times, cfl=cfg.cfl
        )
        return {"times": sol.times, "mass": sol.mass, "risk": sol.risk, "steps": sol.steps}

    limit = ctx.stage("pde", pde)
    return RadialSolution(edges, limit["times"], limit["mass"], limit["risk"], int(limit["steps"]))
