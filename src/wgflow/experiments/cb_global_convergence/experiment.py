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

Claims (:mod:`.claims`; each fails with training switched off, ``--untrained``), every one judged
by an exact rule on the run and by the same rule on its null:

1. ``large_width_converges``: at the largest width (> 10 m0) the excess risk falls below ``tol``
   (1e-4) of its initial value in every seed (Thm 3.3). Null: the same rule at m = m0. The one-sign
   initialisation at the same width, which stalls in every seed *by construction* (sign
   conservation), is shown as the ``control`` number.
2. ``few_particles_suffice``: "particle counts only slightly above the teacher's width reach the
   optimum" (§4): at m = ``width_multiple`` m0 (4 m0: "slightly above" is a constant independent of
   the dimension and the accuracy, far from the > 10 m0 of claim 1) the converged fraction's one-sided
   95% Clopper-Pearson lower bound is at least ``conv_fraction`` (0.9; at least 29 seeds can certify it).
   Null: the same rule at m = m0.
3. ``m0_stalls``: "too few particles can stall" (§4): Fisher's exact one-sided test that more seeds
   stall at m = m0 than at the largest width, p < ``alpha``. Null: the same test on the initial
   networks (t = 0).

4. ``sigmoid_converges``: partially 1-homogeneous units, c sigmoid(w . x + b) (Chizat & Bach 2018, the
   partially 1-homogeneous case and §4: output weights initialised at c = 0, (w, b) of full support, here Gaussian), learning a sigmoid teacher
   of m0 units (c*_j = +1, -1, +1, ..., w*_j on the sphere of radius ``sigmoid_norm``, b*_j = 0) from the
   empirical risk on ``sigmoid_n`` Gaussian inputs (no closed form; the teacher is in the model class, so the
   optimum is 0 and R is the excess risk): at m = the largest width, R(mu_T) <= ``sigmoid_tol`` R(mu_0) in
   every one of ``sigmoid_seeds`` seeds. Null: the same rule after the same steps with the first layer frozen
   (only c trained, ``eta_inner = 0``; same teachers, data and initial particles): the random-features model a
   skeptic offers, a convex problem whose risk stops at the approximation error of its fixed features. The
   untrained network (R_T = R_0) would be a far weaker null. The arm's step ``sigmoid_eta`` (5) and
   ``sigmoid_tol`` (1e-3) were set from a 5-seed pilot at the quick size before the claim was registered.

Each width's seeds (and the control's) run as one ensemble (:class:`~wgflow.flows.Ensemble`): member s
draws its teacher and particles from seed s, and the E exact risks are one batched computation
(:class:`~wgflow.objectives.PopulationRisk` takes theta (E, n, p)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import Choice, Domain, Float, Int, Ints
from ...errors import ConfigError
from ...flows import Ensemble, FlowConfig, train
from ...harness import Experiment, ExperimentResult, register
from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU, Sigmoid
from ...objectives.risks import DatasetRisk, PopulationRisk
from ...plotting.figures import COLORS, LINESTYLES, Caption, _plt, particle_animation, particle_figure, plane_basis
from ...tasks.teacher import ReLUTeacher
from .claims import global_convergence_claims, sigmoid_claim


@dataclass(frozen=True)
class GlobalConvergenceConfig:
    """Defaults are the ``quick`` preset."""

    d: int = 5  # input dimension
    m0: int = 3  # teacher width (c* = 1, |w*| = 1)
    widths: tuple = (3, 12, 48)  # student widths m: m0, width_multiple * m0, and one over 10 m0
    seeds: int = 30  # (teacher, initialisation) draws per width, shared across widths (>= 29 certify a 90% rate)
    control_seeds: int = 5  # seeds of the one-sign control at the largest width (it stalls by construction)
    conv_fraction: float = 0.9  # claim 2: Clopper-Pearson lower bound of the converged fraction at least this
    width_multiple: float = 4.0  # claim 2: the width width_multiple * m0 ("slightly above" the teacher's width)
    alpha: float = 0.05  # claims 2, 3: level of the one-sided Clopper-Pearson bound and of Fisher's exact test
    eta: float = 1.0  # step in mean-field time
    steps: int = 2000  # gradient steps (horizon T = eta * steps)
    tol: float = 1e-4  # a run converged when R(mu_T) <= tol R(mu_0)
    n_snapshots: int = 20  # log-spaced snapshots for the particle picture and the animation
    animation: str = "gif"  # "gif" (Pillow) or "mp4" (needs ffmpeg)
    sigmoid_seeds: int = 10  # claim 4: (teacher, data, initialisation) draws of the sigmoid arm, at the largest width
    sigmoid_n: int = 500  # claim 4: Gaussian inputs of the empirical risk
    sigmoid_norm: float = 2.0  # claim 4: |w*_j| of the sigmoid teacher
    sigmoid_eta: float = 5.0  # claim 4: step in mean-field time (steps: ``steps``)
    sigmoid_tol: float = 1e-3  # claim 4: converged when R(mu_T) <= sigmoid_tol R(mu_0)

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
        "alpha": Float(0, 1, open_lo=True, open_hi=True),
        "sigmoid_seeds": Int(1),
        "sigmoid_n": Int(1),
        "sigmoid_norm": Float(0, open_lo=True),
        "sigmoid_eta": Float(0, open_lo=True),
        "sigmoid_tol": Float(0, 1, open_lo=True, open_hi=True),
    }

    def validate(self) -> None:
        few = self.width_multiple * self.m0
        if self.widths[0] != self.m0 or few not in self.widths or self.widths[-1] <= 10 * self.m0:
            raise ConfigError(
                f"config keys 'widths', 'm0' and 'width_multiple': widths must hold m0 = {self.m0}, "
                f"width_multiple * m0 = {few:g} and a width over 10 m0 = {10 * self.m0}; got {self.widths}"
            )


def _init(kind: str, m: int, d: int, g: torch.Generator) -> torch.Tensor:
    """(m, d+1) particles: 'sphere' (theorem) or 'one_sign' (c = -1 > |w|: violates it)."""
    theta = ReLU(d).init(m, generator=g, dtype=torch.float64, kind="sphere")
    if kind == "one_sign":
        theta[:, 1:] *= 0.5
        theta[:, 0] = -1.0
    return theta


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
    ctx.save_trajectory(f"trajectory_{kind}-m{m}", trajs[0])  # seed 0's flow: wgflow.interop.load_trajectory
    return {
        "risk": np.stack([t.risk for t in trajs]),  # (seeds, R)
        "risk_times": trajs[0].risk_times,
        "snapshots": np.stack([t.snapshots for t in trajs]),  # (seeds, S, m, d + 1)
        "snapshot_times": trajs[0].snapshot_times,
        "teacher": np.stack([t.measure.numpy() for t in teachers]),  # (seeds, m0, d + 1)
    }


def _final_ratios(runs: dict, kind: str, m: int, seeds: int) -> np.ndarray:
    """(seeds,) excess-risk ratios R(mu_T) / R(mu_0) of one (init kind, width)."""
    return np.array([runs[kind, m, s]["risk"][-1] / runs[kind, m, s]["risk"][0] for s in range(seeds)])


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


def _sigmoid_seeds(cfg, ctx, layers: str) -> np.ndarray:
    """(sigmoid_seeds,) ratios R(mu_T)/R(mu_0) of the sigmoid arm at the largest width, one ensemble; ``layers``
    "both" (the flow) or "output" (first layer frozen, the null). Member s: seed s's teacher, data, particles."""
    unit, m = Sigmoid(cfg.d), max(cfg.widths)
    objs, mus = [], []
    for s in range(cfg.sigmoid_seeds):
        g = torch.Generator().manual_seed(1000 * ctx.seed + 500 + s)
        w = torch.randn(cfg.m0, cfg.d, generator=g, dtype=torch.float64)
        c = torch.tensor([(-1.0) ** j for j in range(cfg.m0)], dtype=torch.float64)
        theta = torch.cat(
            [
                c[:, None],
                cfg.sigmoid_norm * w / w.norm(dim=1, keepdim=True),
                torch.zeros(cfg.m0, 1, dtype=torch.float64),
            ],
            1,
        )
        x = torch.randn(cfg.sigmoid_n, cfg.d, generator=g, dtype=torch.float64)
        objs.append(DatasetRisk(x, ParticleMeasure(theta, unit).output(x)))
        kw = {
            "generator": g,
            "dtype": torch.float64,
            "kind": "zero_c",
            "w_scale": cfg.d**0.5,
        }  # c = 0, (w, b) ~ N(0, I)
        mus.append(ParticleMeasure(unit.init(m, **kw), unit))
    flow = FlowConfig(
        eta=cfg.sigmoid_eta,
        steps=cfg.steps,
        eta_inner=float(layers == "both"),
        n_snapshots=2,
        risk_every=max(1, cfg.steps // 100),
    )
    trajs = train(
        Ensemble.stack(mus),
        objs,
        flow,
        seed=list(range(cfg.sigmoid_seeds)),
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"sigmoid-{layers}-m{m}"),
    )
    return np.array([t.risk[-1] / t.risk[0] for t in trajs])


@register
class GlobalConvergence(Experiment):
    name = "cb-global-convergence"
    title = "Global convergence of over-parameterised ReLU networks (exact population risk)"
    reference = "Chizat & Bach, NeurIPS 2018, Thm 3.3 and §4"
    description = __doc__
    Config = GlobalConvergenceConfig
    cost = 65  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        # full: sized to run within 2 h on the shared 2-core machine (measured costs: results/costs.md): the ReLU
        # widths to m = 200 at 30 seeds over 2e4 steps, and the sigmoid arm, whose seeds are cut from 10 to 6 to fit;
        # sigmoid_n = 500 stays above the 200 features, so the frozen-first-layer null cannot interpolate its sample.
        "full": {
            "d": 10,
            "m0": 5,
            "widths": (5, 20, 50, 200),
            "seeds": 30,
            "steps": 20000,
            "n_snapshots": 80,
            "sigmoid_seeds": 6,
        },
    }
    captions = {
        "cb_excess_risk": Caption(
            "Excess risk along the flow for every width and seed (sphere initialisation), beside the one-sign "
            "initialisation outside the theorem (control).",
            claims=("large_width_converges", "few_particles_suffice", "m0_stalls"),
        ),
        "cb_particles": Caption(
            "Units |c| w of the widest network (seed 0) in the teacher's plane along the flow, beside the teacher's "
            "units.",
            claims=("large_width_converges",),
        ),
        "cb_particles_one_sign": Caption(
            "Units of the one-sign initialisation (control, outside the theorem) in the teacher's plane along the flow."
        ),
    }

    def run(self, cfg: GlobalConvergenceConfig, ctx) -> ExperimentResult:
        runs = _train_runs(cfg, ctx)
        big = max(cfg.widths)
        ratio = {m: _final_ratios(runs, "sphere", m, cfg.seeds) for m in cfg.widths}
        bad = _final_ratios(runs, "one_sign", big, cfg.control_seeds)
        for m, r in ratio.items():
            ctx.log(f"m = {m}: stalled fraction {np.mean(r > cfg.tol):.2f}, median R_T/R_0 {np.median(r):.2e}")

        claims = global_convergence_claims(cfg, ratio, bad)
        sig = {
            r: ctx.stage(f"sigmoid-{r}", lambda r=r: {"ratio": _sigmoid_seeds(cfg, ctx, r)})["ratio"]
            for r in ("both", "output")
        }
        claims.append(sigmoid_claim(cfg, sig["both"], sig["output"]))
        metrics = {f"stalled_fraction_m{m}": float(np.mean(r > cfg.tol)) for m, r in ratio.items()}
        metrics.update(
            {
                "max_ratio_large_m": float(ratio[big].max()),
                "max_ratio_m0": float(ratio[cfg.m0].max()),
                "min_ratio_violating": float(bad.min()),
                "violating_stalled_fraction": float(np.mean(bad > cfg.tol)),
                "sigmoid_max_ratio": float(sig["both"].max()),
                "sigmoid_frozen_min_ratio": float(sig["output"].min()),
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
