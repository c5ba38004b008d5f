r"""Claims of cb-global-convergence, each judged by one exact rule on the run and on its null.

From the per-seed excess-risk ratios :math:`r_{m,s} = R(\mu_T)/R(\mu_0)` of every width m and seed
s (seed s has the same teacher at every width), a seed *converges* at width m when
:math:`r_{m,s} \le` ``tol``.

1. ``large_width_converges`` (Chizat & Bach 2018, Thm 3.3): max_s r_{big,s} <= tol, a
   deterministic rule on the seeds (method "exact"). Null: the same rule at m = m0 (same teachers,
   same initial law, same steps): a width the theorem does not cover.
2. ``few_particles_suffice`` (§4, "particle counts only slightly above the teacher's width reach
   the optimum"): at m = ``width_multiple`` m0 the one-sided 95% Clopper-Pearson lower bound of the
   converged fraction (the lower end of the two-sided 90% interval) is at least ``conv_fraction``
   (n/n seeds reach 0.9 from n = 29 on). Null: the same rule at m = m0.
3. ``m0_stalls`` (§4, "too few particles can stall"): Fisher's exact one-sided test that the stalled
   fraction at m = m0 exceeds the one at the largest width, p < ``alpha``. Null: the same test on the
   initial networks (t = 0), where every seed is "stalled" at both widths.
4. ``sigmoid_converges`` (the partially 1-homogeneous units from c = 0): at the largest width
   max_s R(mu_T)/R(mu_0) <= ``sigmoid_tol`` over the sigmoid arm's seeds (method "exact"). Null: the same rule
   with the first layer frozen (random features: the same teachers, data, particles and steps).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...harness import Null, claim_le, claim_true
from ...stats import clopper_pearson, fisher_exact

SOURCE = "Chizat & Bach, NeurIPS 2018"
NULL_M0 = "the same rule at m = m0 (sphere initialisation, same teachers and steps)"
NULL_T0 = "the same Fisher test on the initial networks (t = 0): no seed has converged at either width"


def smallest_significant_stalls(n1: int, n2: int, alpha: float) -> int | None:
    """The fewest stalls out of n1 at m = m0 that Fisher's test finds significant against 0 of n2."""
    return next((k for k in range(1, n1 + 1) if fisher_exact(k, n1, 0, n2).p < alpha), None)


def global_convergence_claims(cfg, ratio: Mapping[int, np.ndarray], control: np.ndarray) -> list:
    """The three claims from the ratios R_T/R_0 (``ratio[m]``: shape (seeds,)) and the one-sign control's."""
    big, m0, few = max(cfg.widths), cfg.m0, int(round(cfg.width_multiple * cfg.m0))
    n = cfg.seeds
    conv = {m: int((r <= cfg.tol).sum()) for m, r in ratio.items()}  # converged seeds per width
    # one-sided 95% lower bounds: the lower ends of the two-sided 90% intervals
    all_cp = clopper_pearson(n, n, level=2 * cfg.alpha)
    cp, cp0 = clopper_pearson(conv[few], n, level=2 * cfg.alpha), clopper_pearson(conv[m0], n, level=2 * cfg.alpha)
    stalls = {m: n - conv[m] for m in (m0, big)}
    test, test0 = fisher_exact(stalls[m0], n, stalls[big], n), fisher_exact(n, n, n, n)
    k_min = smallest_significant_stalls(n, n, cfg.alpha)
    return [
        claim_le(
            "large_width_converges",
            f"at m = {big} (> 10 m0 = {10 * m0}) the excess risk falls below {cfg.tol:g} of its initial value "
            f"in every seed: max over {n} seeds of R(mu_T)/R(mu_0)",
            float(ratio[big].max()),
            cfg.tol,
            source=f"{SOURCE}, Thm 3.3",
            null=Null(NULL_M0, float(ratio[m0].max())),
            method="exact",
            power=f"{n} seeds: all converging bounds the rate of non-convergence below {1 - all_cp.lo:.2f} "
            f"(one-sided {1 - cfg.alpha:.0%} Clopper-Pearson)",
            control=float(control.min()),
            note=f"control: one-sign initialisation (outside the theorem) at m = {big}, best R_T/R_0 over "
            f"{cfg.control_seeds} seeds; it stalls by sign conservation",
        ),
        claim_true(
            "few_particles_suffice",
            f"particle counts slightly above the teacher's width reach the optimum: at m = {few} "
            f"({cfg.width_multiple:g} m0) the fraction of {n} seeds with R_T/R_0 <= {cfg.tol:g}, "
            f"one-sided {1 - cfg.alpha:.0%} Clopper-Pearson lower bound at least {cfg.conv_fraction:g} (the interval "
            f"shown is the two-sided {1 - 2 * cfg.alpha:.0%} one)",
            cp.rate,
            bool(cp.lo >= cfg.conv_fraction),
            expected=f"CP lower >= {cfg.conv_fraction:g}",
            ci=cp.ci,
            null=Null(NULL_M0, cp0.rate, cp0.ci, passed=bool(cp0.lo >= cfg.conv_fraction)),
            method="clopper-pearson",
            power=f"{n} seeds: the one-sided CP lower bound is at most {all_cp.lo:.3f} (at {n}/{n})",
            source=f"{SOURCE}, §4 (numerical illustrations)",
        ),
        claim_true(
            "m0_stalls",
            f"too few particles can stall: the fraction of {n} seeds with R_T/R_0 > {cfg.tol:g} is larger at "
            f"m = m0 = {m0} ({stalls[m0]}/{n}) than at m = {big} ({stalls[big]}/{n}): Fisher's exact one-sided p",
            test.p,
            bool(test.p < cfg.alpha),
            expected=f"Fisher p < {cfg.alpha:g}",
            null=Null(NULL_T0, test0.p, passed=bool(test0.p < cfg.alpha)),
            method="fisher-exact",
            power=f"{n} vs {n} seeds: against 0 stalls at m = {big}, at least {k_min} stalls at m0 "
            f"(rate {(k_min or n) / n:.2f}) are needed for p < {cfg.alpha:g}",
            control=stalls[big] / n,
            source=f"{SOURCE}, §4 (too few particles can stall)",
        ),
    ]


NULL_FROZEN = (
    "the same rule after the same steps with the first layer frozen (only the output weights c trained: random "
    "features; same teachers, data and initial particles)"
)


def sigmoid_claim(cfg, ratio: np.ndarray, frozen: np.ndarray):
    """Claim 4 from the sigmoid arm's per-seed R_T/R_0 (``ratio``) and the frozen-first-layer null's (``frozen``)."""
    n, big = len(ratio), max(cfg.widths)
    all_cp = clopper_pearson(n, n, level=2 * cfg.alpha)
    return claim_le(
        "sigmoid_converges",
        f"partially 1-homogeneous sigmoid units started from c = 0 reach the global minimum: at m = {big} "
        f"(teacher m0 = {cfg.m0}, d = {cfg.d}) the empirical excess risk on {cfg.sigmoid_n} Gaussian inputs falls "
        f"below {cfg.sigmoid_tol:g} of its initial value in every seed: max over {n} seeds of R(mu_T)/R(mu_0) "
        f"after {cfg.steps} steps of {cfg.sigmoid_eta:g}",
        float(ratio.max()),
        cfg.sigmoid_tol,
        source=f"{SOURCE}, partially 1-homogeneous units (c = 0 initialisation) and §4",
        null=Null(NULL_FROZEN, float(frozen.max())),
        method="exact",
        power=f"{n} seeds: all converging bounds the rate of non-convergence below {1 - all_cp.lo:.2f} "
        f"(one-sided {1 - cfg.alpha:.0%} Clopper-Pearson)",
        control=1.0,
        note="control: the untrained network (c = 0 throughout, R_T = R_0)",
    )
