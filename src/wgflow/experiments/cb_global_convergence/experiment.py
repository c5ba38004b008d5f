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

Claims (each fails with training switched off, ``--untrained``):

1. ``large_width_converges``: at the largest width (> 10 m0) the excess risk falls below ``tol``
   (1e-4) of its initial value in every seed (Thm 3.3). Control: the one-sign initialisation at
   the same width, which stalls in every seed *by construction* (sign conservation): its best
   ratio is the ``control`` value.
2. ``few_particles_suffice``: "particle counts only slightly above the teacher's width" reach the
   optimum (Chizat & Bach 2018, §4). m* = the smallest width of the grid at which at least
   ``conv_fraction`` (90%) of the seeds converge; claimed m* <= ``width_multiple`` x m0 with
   ``width_multiple`` = 4, on the upper end of a bootstrap CI over seeds (resampled jointly
   across widths: seed s has the same teacher at every width). Why 4, a priori: "slightly above"
   is a constant independent of the dimension and of the accuracy, far from the > 10 m0 of claim
   1; 4 is the largest power of two with that meaning on the grid m0, 2 m0, 4 m0, 16 m0. No width
   converging gives m* = inf (fails).
3. ``m0_stalls``: at m = m0 a fraction of seeds stalls (too few particles can stall): the 95%
   Clopper-Pearson interval of the stalled fraction lies above the stalled fraction at the
   largest width (the control).

Each width's seeds (and the control's) run as one ensemble (:class:`~wgflow.flows.Ensemble`): member s
draws its teacher and particles from seed s, and the E exact risks are one batched computation
(:class:`~wgflow.objectives.PopulationRisk` takes theta (E, n, p)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from scipy.stats import binomtest

from ...domains import Choice, Domain, Float, Int, Ints
from ...flows import Ensemble, FlowConfig, train
from ...harness import (
    Experiment,
    ExperimentResult,
    claim_le,
    claim_true,
    register,
)
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...objectives.risks import PopulationRisk
from ...plotting.figures import COLORS, LINESTYLES, Caption, _plt, particle_animation, particle_figure, plane_basis
from ...tasks.teacher import ReLUTeacher


@dataclass(frozen=True)
class GlobalConvergenceConfig:
    """Defaults are the ``quick`` preset."""

    d: int = 5  # input dimension
    m0: int = 3  # teacher width (c* = 1, |w*| = 1)
    widths: tuple = (3, 6, 12, 48)  # student widths m; the first should be m0, the last well over 10 m0
    seeds: int = 10  # independent (teacher, initialisation) draws per width (>= 10 resolves a 90% rate)
    control_seeds: int = 5  # seeds of the one-sign control at the largest width (it stalls by construction)
    conv_fraction: float = 0.9  # claim 2: a width "converges" when at least this fraction of seeds does
    width_multiple: float = 4.0  # claim 2: m* <= width_multiple * m0 ("slightly above" the teacher's width)
    eta: float = 1.0  # step in mean-field time
    steps: int = 2000  # gradient steps (horizon T = eta * steps)
    tol: float = 1e-4  # a run converged when R(mu_T) <= tol R(mu_0)
    n_snapshots: int = 40  # log-spaced snapshots for the particle picture and the animation
    animation: str = "gif"  # "gif" (Pillow) or "mp4" (needs ffmpeg)

    domains: ClassVar[dict[str, Domain]] = {
        "d": Int(2),
        "m0": Int(1),
        "widths": Ints(1, min_len=2, increasing=True),
        "seeds": Int(1),
        "eta": Float(0, open_lo=True),
        "steps": Int(1),
        "tol": Float(0, 1, open_lo=True, open_hi=True),
        "n_snapshots": Int(2),
        "animation": Choice("gif", "mp4"),
        "control_seeds": Int(1),
        "conv_fraction": Float(0, 1, open_lo=True),
        "width_multiple": Float(1),
    }


def _init(kind: str, m: int, d: int, g: torch.Generator) -> torch.Tensor:
    """(m, d+1) particles: 'sphere' (theorem) or 'one_sign' (c = -1 > |w|: violates it)."""
    theta = ReLU(d).init(m, generator=g, dtype=torch.float64, kind="sphere")
    if kind == "one_sign":
        theta[:, 1:] *= 0.5
        theta[:, 0] = -1.0
    return theta


def _smallest_converging(
    widths: list, conv: np.ndarray, fraction: float, *, n_boot: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Smallest width whose fraction of converged seeds is >= ``fraction`` (inf if none), with a 95% CI.

    conv : (W, S) booleans, widths ascending. Seeds are resampled jointly across widths (seed s shares
    its teacher at every width): a percentile bootstrap of the smallest converging width.
    """
    w = np.append(np.asarray(widths, dtype=float), np.inf)

    def smallest(c: np.ndarray) -> float:
        return float(w[np.argmax(np.append(c.mean(axis=1) >= fraction, True))])

    rng = np.random.default_rng(seed)
    boot = [smallest(conv[:, rng.integers(0, conv.shape[1], conv.shape[1])]) for _ in range(n_boot)]
    lo, hi = np.quantile(boot, [0.025, 0.975], method="inverted_cdf")
    return smallest(conv), (float(lo), float(hi))


_PER_SEED = ("risk", "snapshots", "teacher")  # stage arrays with a leading seed axis


def _seeds_as_ensemble(cfg, ctx, flow: FlowConfig, kind: str, m: int, seeds: int) -> dict:
    """Seeds 0..seeds-1 at width m as one ensemble; member s draws its teacher, then its particles, from seed s."""
    teachers, mus = [], []
    for s in range(seeds):
        g = torch.Generator().manual_seed(1000 * ctx.seed + s)
        teachers.append(ReLUTeacher.random(cfg.d, cfg.m0, generator=g))
        mus.append(ParticleMeasure(_init(kind, m, cfg.d, g), ReLU(cfg.d)))
    trajs = train(
        Ensemble.stack(mus),
        [PopulationRisk(t) for t in teachers],
        flow,
        seed=list(range(seeds)),
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"{kind}-m{m}"),
    )
    return {
        "risk": np.stack([t.risk for t in trajs]),  # (seeds, R)
        "risk_times": trajs[0].risk_times,
        "snapshots": np.stack([t.snapshots for t in trajs]),  # (seeds, S, m, d + 1)
        "snapshot_times": trajs[0].snapshot_times,
        "teacher": np.stack([t.measure.numpy() for t in teachers]),  # (seeds, m0, d + 1)
    }


def _train_runs(cfg: GlobalConvergenceConfig, ctx) -> dict:
    """Every (init kind, width, seed) flow, the seeds of one width trained as one memoised ensemble stage."""
    flow = FlowConfig(eta=cfg.eta, steps=cfg.steps, n_snapshots=cfg.n_snapshots, risk_every=max(1, cfg.steps // 100))

    plan = (("sphere", cfg.widths, cfg.seeds), ("one_sign", (max(cfg.widths),), cfg.control_seeds))
    runs = {}
    for k, ms, seeds in plan:
        for m in ms:  # the seeds of one width: one ensemble, member s = seed s's teacher and particles
            st = ctx.stage(f"{k}-m{m}", lambda k=k, m=m, seeds=seeds: _seeds_as_ensemble(cfg, ctx, flow, k, m, seeds))
            runs.update(
                {(k, m, s): {key: v[s] if key in _PER_SEED else v for key, v in st.items()} for s in range(seeds)}
            )
    return runs


def _claims(
    cfg: GlobalConvergenceConfig,
    worst_big: float,
    bad: np.ndarray,
    m_star_ci: tuple[float, tuple[float, float]],
    stall_frac: dict[int, float],
    stall_ci: tuple[float, float],
) -> list:
    """The three claims from the per-width convergence statistics (see the module docstring)."""
    big, small, widths = max(cfg.widths), min(cfg.widths), sorted(cfg.widths)
    m_star, m_ci = m_star_ci
    k = cfg.width_multiple
    return [
        claim_le(
            "large_width_converges",
            f"at m = {big} (> 10 m0 = {10 * cfg.m0}) the excess risk falls below "
            f"{cfg.tol:g} of its initial value in every seed: max over {cfg.seeds} seeds of R(mu_T)/R(mu_0)",
            worst_big,
            cfg.tol,
            source="Chizat & Bach, NeurIPS 2018, Thm 3.3",
            control=float(bad.min()),
            note=f"control: one-sign initialisation (outside the theorem) at m = {big}, best R_T/R_0 over "
            f"{cfg.control_seeds} seeds; it stalls by sign conservation",
        ),
        claim_true(
            "few_particles_suffice",
            f"particle counts slightly above the teacher's width converge: the "
            f"smallest width m* of {tuple(widths)} converging in >= {cfg.conv_fraction:.0%} of "
            f"{cfg.seeds} seeds, as m*/m0, with the bootstrap CI's upper end <= {k:g}",
            m_star / cfg.m0,
            bool(m_ci[1] <= k * cfg.m0),
            expected=f"CI upper <= {k:g}",
            ci=(m_ci[0] / cfg.m0, m_ci[1] / cfg.m0),
            source="Chizat & Bach, NeurIPS 2018, §4 (numerical illustrations)",
            note="m*/m0 = inf when no width of the grid converges in enough seeds",
        ),
        claim_true(
            "m0_stalls",
            f"at m = m0 = {small} a fraction of the {cfg.seeds} seeds stalls above "
            f"{cfg.tol:g} R(mu_0), more than at m = {big} (control): 95% Clopper-Pearson interval above "
            "the control",
            stall_frac[small],
            bool(stall_ci[0] > stall_frac[big]),
            expected="CI lower > control",
            ci=stall_ci,
            control=stall_frac[big],
            source="Chizat & Bach, NeurIPS 2018, §4 (too few particles can stall)",
        ),
    ]


@register
class GlobalConvergence(Experiment):
    name = "cb-global-convergence"
    title = "Global convergence of over-parameterised ReLU networks (exact population risk)"
    reference = "Chizat & Bach, NeurIPS 2018, Thm 3.3 and §4"
    description = __doc__
    Config = GlobalConvergenceConfig
    presets = {
        "quick": {},
        "full": {"d": 10, "m0": 5, "widths": (5, 10, 20, 50, 100, 200), "seeds": 20, "steps": 20000, "n_snapshots": 80},
    }
    captions = {
        "cb_excess_risk": Caption(
            "Excess risk along the flow for every width and seed (sphere initialisation), beside the one-sign "
            "initialisation outside the theorem (control).",
            claims=("large_width_converges", "few_particles_suffice", "m0_stalls"),
        ),
        "cb_particles": Caption(
            "Units |c| w of the widest network (seed 0) in the teacher's plane reach the teacher's units.",
            claims=("large_width_converges",),
        ),
        "cb_particles_one_sign": Caption("The one-sign initialisation (control) stalls: no unit can change sign."),
    }

    def run(self, cfg: GlobalConvergenceConfig, ctx) -> ExperimentResult:
        runs = _train_runs(cfg, ctx)
        ratio = {key: float(r["risk"][-1] / r["risk"][0]) for key, r in runs.items()}
        big, small = max(cfg.widths), min(cfg.widths)
        widths = sorted(cfg.widths)
        conv = np.array([[ratio["sphere", m, s] <= cfg.tol for s in range(cfg.seeds)] for m in widths])  # (W, seeds)
        worst_big = max(ratio["sphere", big, s] for s in range(cfg.seeds))
        stall_frac = {m: float(1 - c.mean()) for m, c in zip(widths, conv)}
        bad = np.array([ratio["one_sign", big, s] for s in range(cfg.control_seeds)])
        m_star, m_ci = _smallest_converging(widths, conv, cfg.conv_fraction, seed=ctx.seed)
        stalls = int((~conv[widths.index(small)]).sum())
        stall_ci = binomtest(stalls, cfg.seeds).proportion_ci(confidence_level=0.95)
        for m in widths:
            ctx.log(
                f"m = {m}: stalled fraction {stall_frac[m]:.2f}, "
                f"median R_T/R_0 {np.median([ratio['sphere', m, s] for s in range(cfg.seeds)]):.2e}"
            )
        ctx.log(f"smallest width converging in >= {cfg.conv_fraction:.0%} of seeds: {m_star} (CI {m_ci})")

        claims = _claims(cfg, worst_big, bad, (m_star, m_ci), stall_frac, (stall_ci.low, stall_ci.high))
        metrics = {f"stalled_fraction_m{m}": stall_frac[m] for m in widths}
        metrics.update(
            {
                "max_ratio_large_m": worst_big,
                "min_ratio_violating": float(bad.min()),
                "violating_stalled_fraction": float(np.mean(bad > cfg.tol)),
                "smallest_converging_width": float(m_star),
            }
        )
        artifacts = {"risk": self._risk_figure(ctx, cfg, runs)}
        artifacts.update(self._particle_figures(ctx, cfg, runs, big))
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _particle_figures(ctx, cfg: GlobalConvergenceConfig, runs: dict, big: int) -> dict:
        """Particles of the first seed at the largest width: sphere init (still and animated) and the control."""
        out = {}
        r0, rb = runs["sphere", big, 0], runs["one_sign", big, 0]
        basis = plane_basis(r0["teacher"][:, 1:])
        fall = {k: r["risk"][-1] / r["risk"][0] for k, r in (("sphere", r0), ("one_sign", rb))}
        title = f"$m$ = {big}, sphere init (seed 0): $R_T/R_0$ = {fall['sphere']:.1e}"
        out["particles"] = ctx.save_figure(
            "cb_particles", particle_figure(r0["snapshots"], basis, r0["teacher"], title=title)
        )
        out["particles_animation"] = ctx.save_figure(
            f"cb_particles.{cfg.animation}",
            particle_animation(r0["snapshots"], basis, r0["teacher"], times=r0["snapshot_times"], title=f"m = {big}"),
        )
        title = f"$m$ = {big}, one-sign init (control): stalls at $R_T/R_0$ = {fall['one_sign']:.2g}"
        out["particles_violating"] = ctx.save_figure(
            "cb_particles_one_sign", particle_figure(rb["snapshots"], basis, rb["teacher"], title=title)
        )
        return out

    @staticmethod
    def _risk_figure(ctx, cfg, runs) -> str:
        plt = _plt()  # matplotlib with the file backend

        fig, ax = plt.subplots(figsize=(7.5, 4.3), layout="constrained")
        floor, big = 1e-16, max(cfg.widths)
        for i, m in enumerate(cfg.widths):
            for s in range(cfg.seeds):
                r = runs["sphere", m, s]
                rel = np.maximum(r["risk"] / r["risk"][0], floor)
                ax.semilogy(
                    r["risk_times"], rel, color=f"C{i}", lw=0.8, alpha=0.7, label=f"$m$ = {m}" if s == 0 else None
                )
        for s in range(cfg.control_seeds):
            r = runs["one_sign", big, s]
            lab = f"$m$ = {big}, one-sign init (control)" if s == 0 else None
            ax.semilogy(
                r["risk_times"], r["risk"] / r["risk"][0], LINESTYLES["control"], color=COLORS["control"], label=lab
            )
        ax.axhline(
            cfg.tol, color=COLORS["reference"], ls=LINESTYLES["reference"], lw=0.6, label=f"tolerance {cfg.tol:g}"
        )
        ax.set(
            xlabel="mean-field time $t$",
            ylabel=r"excess risk $R(\mu_t) / R(\mu_0)$",
            ylim=(1e-10, 2),
            title=f"ReLU teacher, $m_0$ = {cfg.m0}, $d$ = {cfg.d}; each seed",
        )
        ax.legend(fontsize=7)
        worst = max(runs["sphere", big, s]["risk"][-1] / runs["sphere", big, s]["risk"][0] for s in range(cfg.seeds))
        small = min(cfg.widths)
        stalled = np.mean(
            [
                runs["sphere", small, s]["risk"][-1] > cfg.tol * runs["sphere", small, s]["risk"][0]
                for s in range(cfg.seeds)
            ]
        )
        fig.suptitle(
            f"at $m$ = {big} the worst seed reaches $R_T/R_0$ = {worst:.1e} (tolerance {cfg.tol:g}); "
            f"{stalled:.0%} of the seeds stall at $m = m_0$"
        )
        return ctx.save_figure("cb_excess_risk", fig)
