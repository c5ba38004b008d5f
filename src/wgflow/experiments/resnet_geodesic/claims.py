"""Claims of resnet-geodesic: what training changes (LSS, transport-matched OTS and K/W2²), Gai & Zhang's
absolute levels, K/W2² -> 1 over γ (the original rule and a post-hoc one) and the accuracy peak; the
comparisons with the γ = 0 ResNet and the plain network are :mod:`.comparisons`.

Every claim is judged twice by the same rule: on the trained networks and on its null, the same statistic
for the untrained initialisations. Intervals are Student t over inits (:func:`wgflow.stats.mean_ci`).

``st[(net, γ)]`` holds per-init score rows (columns :data:`COLS` of the experiment): ``rows`` trained,
``init`` at initialisation, ``matched`` the transport-matched untrained ResNet and ``matched0`` the trained
γ = 0 ResNet rescaled to the same transport (LSS, OTS, K/W2², scale).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from ...harness import ExperimentResult, Null, claim_ci_above, claim_ci_below, claim_ci_within, claim_true
from ...stats import MeanCI, mean_ci, min_detectable_effect, within

#: Per (network, γ): score arrays ``rows``, ``init``, ``matched``, ``curve`` and 2-D snapshots.
Stats = dict[tuple[str, float], dict[str, np.ndarray]]

#: Gai & Zhang's ranges at moderate γ (their CIFAR-100 values: GAI_ZHANG_CIFAR100 of the experiment): ResNet LSS,
#: ResNet OTS, plain LSS, plain OTS.
LEVELS = {"resnet_lss": (1.1, 1.4), "resnet_ots": (0.96, 1.0), "plain_lss": (3.5, 4.6), "plain_ots": (0.0, 0.22)}
GZ = "Gai & Zhang 2021 (arXiv 2102.09235), Table/slides: CIFAR-100 LSS and OTS vs weight decay"
UNTRAINED = "the untrained network (its initialisation in place of the trained one)"
INIT_VS_MATCHED = "the initialisation in place of the trained network, against the same matched stack"
MATCHED = "the transport-matched untrained ResNet (its initialisation rescaled to the trained transport)"
INIT_RAMP = "the same rule on the initialisations' scores over the γ grid"


def power(ci: MeanCI) -> str:
    return f"interval width {ci.hi - ci.lo:.3g}; smallest detectable effect {min_detectable_effect(ci.se, ci.df):.3g}"


def per_init(v: Any) -> str:
    return " ".join(f"{a:.3g}" for a in v)


GAINS = ((1, "ots", "OTS", 1), (2, "kratio", "K/W2²", -1))  # (column, key, label, sign: + when the trained is better)


def paired_gain(R: dict, j: int, sign: int, base: str, who: str = "rows") -> MeanCI:
    """Paired gain of ``who`` (trained rows, or a baseline) over the baseline ``base`` in column ``j``."""
    return mean_ci(sign * (R[who][:, j] - R[base][:, j]))


def gain_claim(name: str, statement: str, ci: MeanCI, null: Null, control: float, source: str, note: str) -> Any:
    """A paired gain over a transport-matched baseline, judged on its Student-t interval: CI > 0."""
    return claim_ci_above(
        name,
        statement,
        ci.mean,
        ci.ci,
        0.0,
        null=null,
        method="t-mean",
        power=power(ci),
        control=control,
        source=source,
        note=note,
    )


def training_claims(cfg: Any, res: ExperimentResult, st: Stats) -> None:
    """What training changes at the moderate γ: LSS falls, OTS and K/W2² beat the transport-matched stack."""
    g = float(cfg.judge_gamma)
    R = st[("resnet", g)]
    tr, i0, mt = R["rows"], R["init"], R["matched"]
    ci, ci0 = mean_ci(i0[:, 0] - tr[:, 0]), mean_ci(i0[:, 0] - i0[:, 0])
    res.claims.append(
        claim_ci_above(
            "lss_decreases_in_training",
            f"γ = {g:g}: training lowers the ResNet's mean LSS towards 1 (paired LSS_init - LSS_trained over inits)",
            ci.mean,
            ci.ci,
            0.0,
            null=Null(UNTRAINED, ci0.mean, ci0.ci),
            method="t-mean",
            power=power(ci),
            control=float(mt[:, 0].mean()),
            source=f"{GZ}: trained ResNets have LSS 1.1-1.4 (near-straight tracks)",
            note=f"trained LSS {tr[:, 0].mean():.3f} (per init {per_init(tr[:, 0])}); init {per_init(i0[:, 0])}; "
            f"control: the LSS of the transport-matched untrained stack",
        )
    )
    for j, key, what, sign in GAINS:  # OTS above, K/W2² below the matched stack
        ci, ci0 = paired_gain(R, j, sign, "matched"), paired_gain(R, j, sign, "matched", who="init")
        res.claims.append(
            gain_claim(
                f"{key}_{'above' if sign > 0 else 'below'}_matched",
                f"γ = {g:g}: the trained ResNet's {what} is {'above' if sign > 0 else 'below'} that of its own "
                "initialisation with branches rescaled to move the data as far (matched W2²(μ_0, μ_L)/Var μ_0)",
                ci,
                Null(INIT_VS_MATCHED, ci0.mean, ci0.ci),
                float(mt[:, j].mean()),
                f"{GZ}: trained ResNets transport the data along the W2 geodesic (OTS ≈ 1, K/W2² ≈ 1)",
                f"trained {what} {per_init(tr[:, j])}; matched {per_init(mt[:, j])} (branch scales {per_init(mt[:, 3])}); "
                f"init {per_init(i0[:, j])}; trained τ {per_init(tr[:, 4])}, init τ {per_init(i0[:, 4])}",
            )
        )
    level_claims(cfg, res, st)


def level_claims(cfg: Any, res: ExperimentResult, st: Stats) -> None:
    """Gai & Zhang's absolute levels at the moderate γ: ResNet LSS (two-sided, and one-sided post hoc), ResNet
    OTS, plain LSS and OTS."""
    g = float(cfg.judge_gamma)
    R, P = st[("resnet", g)], st[("plain", g)]
    tr, i0 = R["rows"], R["init"]
    l0, l1 = LEVELS["resnet_lss"]
    v, v0 = mean_ci(tr[:, 0]), mean_ci(i0[:, 0])
    common = {
        "null": Null("the untrained network (its initialisation's LSS)", v0.mean, v0.ci),
        "method": "t-mean",
        "power": power(v),
        "source": f"{GZ} (moderate γ: {l0:g}-{l1:g})",
    }
    res.claims.append(
        claim_ci_within(
            "resnet_lss_level",
            f"γ = {g:g}: trained ResNet mean LSS in Gai–Zhang's range [{l0:g}, {l1:g}] (the whole CI)",
            v.mean,
            v.ci,
            (l0 + l1) / 2,
            (l1 - l0) / 2,
            **common,
            note=f"the range as first written (two-sided); per init {per_init(tr[:, 0])}; trained τ {tr[:, 4].mean():.3g}",
        )
    )
    res.claims.append(
        claim_ci_below(
            "resnet_lss_level_posthoc",
            f"γ = {g:g}: trained ResNet mean LSS at or below Gai–Zhang's upper level {l1:g} (one-sided, the whole CI)",
            v.mean,
            v.ci,
            l1,
            **common,
            note=f"one-sided rule chosen after the first run landed below {l0:g} (LSS 1.03-1.05): a LSS below "
            "their range is straighter than their networks; post hoc, never counted",
        )
    )
    _ots_level(cfg, res, R)
    _plain_levels(cfg, res, P)


def _ots_level(cfg: Any, res: ExperimentResult, R: dict) -> None:
    """The trained ResNet's OTS at Gai–Zhang's level, where its stream transports; null: the matched stack."""
    g, o0 = float(cfg.judge_gamma), LEVELS["resnet_ots"][0]
    tr, i0, mt = R["rows"], R["init"], R["matched"]

    def ots_rule(ci: MeanCI, tau: float) -> bool:  # OTS -> 1 when the stream barely moves: judged only where it does
        return bool(ci.lo < ci.hi and ci.lo > o0 and tau >= cfg.active_floor)

    o, om, tau = mean_ci(tr[:, 1]), mean_ci(mt[:, 1]), float(tr[:, 4].mean())
    res.claims.append(
        claim_true(
            "resnet_ots_level",
            f"γ = {g:g}: trained ResNet mean OTS at Gai–Zhang's level (>= {o0:g}, the whole CI) while its stream "
            f"transports (W2²(μ_0, μ_L)/Var μ_0 >= active_floor)",
            o.mean,
            ots_rule(o, tau),
            f"CI > {o0:g}, W2²/Var μ_0 >= {cfg.active_floor:g}",
            ci=o.ci,
            null=Null(MATCHED, om.mean, om.ci, passed=ots_rule(om, tau)),  # matched: the same transport τ
            method="t-mean",
            power=power(o),
            control=float(i0[:, 1].mean()),
            source=f"{GZ} (moderate γ: {o0:g}-1)",
            note=f"per init {per_init(tr[:, 1])}; trained τ {tau:.3g}; control: the initialisation's OTS",
        )
    )


def _plain_levels(cfg: Any, res: ExperimentResult, P: dict) -> None:
    """The trained plain network's LSS ≈ 4 and low OTS; null: the untrained plain network."""
    g = float(cfg.judge_gamma)
    (pl0, pl1), po1 = LEVELS["plain_lss"], LEVELS["plain_ots"][1]

    def plain_rule(rows: np.ndarray) -> tuple[bool, MeanCI]:
        c = mean_ci(rows[:, 0])
        return within(c.lo, c.hi, (pl0 + pl1) / 2, (pl1 - pl0) / 2) and float(rows[:, 1].mean()) <= po1, c

    ok, c = plain_rule(P["rows"])
    ok0, c0 = plain_rule(P["init"])
    res.claims.append(
        claim_true(
            "plain_levels",
            f"γ = {g:g}: trained plain net mean LSS ≈ 4 (the whole CI in Gai–Zhang's [{pl0:g}, {pl1:g}]) "
            f"and mean OTS <= {po1:g}",
            f"LSS {c.mean:.3f}, OTS {P['rows'][:, 1].mean():.3f}",
            ok,
            f"LSS CI within [{pl0:g}, {pl1:g}], OTS <= {po1:g}",
            ci=c.ci,
            null=Null(
                "the untrained plain network (its initialisation)",
                f"LSS {c0.mean:.3f}, OTS {P['init'][:, 1].mean():.3f}",
                c0.ci,
                passed=ok0,
            ),
            method="t-mean",
            power=power(c),
            source=f"{GZ} (plain network)",
            note="CI: of the trained plain LSS",
        )
    )


def _acc_peak(rows: Callable[[float], np.ndarray], sg: list[float]) -> float:
    """The γ of peak mean test accuracy (first maximum over the sorted grid: ties go to the smaller γ)."""
    return sg[int(np.argmax([rows(g)[:, 3].mean() for g in sg]))]


def _original_rule(tab: dict[float, np.ndarray], sg: list[float]) -> tuple[bool, list[float], float]:
    """The first rule: mean K/W2² strictly decreasing over γ from 0 up to the accuracy-peak γ (>= 2 points)."""
    peak = _acc_peak(lambda g: tab[g], sg)
    ramp = [float(tab[g][:, 2].mean()) for g in sg if g <= peak]
    return bool(len(ramp) > 1 and all(a > b for a, b in itertools.pairwise(ramp))), ramp, peak


def _trend_rule(cfg: Any, tab: dict[float, np.ndarray], sg: list[float]) -> tuple[bool, list[float], float, float]:
    """The post-hoc rule: median K/W2² over γ from 0 up to the moderate γ (``moderate_gamma``), Kendall τ <=
    ``trend_tau`` on >= 3 points, the excess over 1 at least halved."""
    if cfg.moderate_gamma == "active":  # the stream must transport at every γ up to the moderate one
        on = [g for g in sg if tab[g][:, 4].mean() >= cfg.active_floor]
        moderate = max((g for g in sg if all(h in on for h in sg if h <= g)), default=0.0)
    elif cfg.moderate_gamma == "acc_peak":
        moderate = _acc_peak(lambda g: tab[g], sg)
    else:
        moderate = float(cfg.moderate_gamma)
    ramp = [
        float(np.nanmedian(tab[g][:, 2])) if np.isfinite(tab[g][:, 2]).any() else float("nan")
        for g in sg
        if g <= moderate
    ]
    ok_ramp = len(ramp) > 2 and bool(np.isfinite(ramp).all())
    tau = float(kendalltau(np.arange(len(ramp)), ramp)[0]) if len(ramp) > 1 else float("nan")
    halved = ok_ramp and ramp[-1] - 1 <= 0.5 * (ramp[0] - 1)
    return bool(ok_ramp and tau <= cfg.trend_tau and halved), ramp, moderate, tau


def kratio_claims(cfg: Any, res: ExperimentResult, st: Stats) -> float:
    """K/W2² -> 1 as γ grows: the original rule (registered) and the trend rule (post hoc). Returns the moderate
    γ of the trend rule (whose tracks the figures draw)."""
    sg = sorted(cfg.gammas)
    tab = {g: st[("resnet", g)]["rows"] for g in sg}
    tab0 = {g: st[("resnet", g)]["init"] for g in sg}
    src = "Gai & Zhang 2021 §4 with Benamou & Brenier 2000: weight decay minimises the kinetic energy, K/W2² ≥ 1"
    ok, ramp, peak = _original_rule(tab, sg)
    ok0, ramp0, peak0 = _original_rule(tab0, sg)
    res.claims.append(
        claim_true(
            "kinetic_ratio_decreases",
            "ResNet mean K/W2² (≥ 1, Benamou–Brenier) decreases strictly as γ grows from 0 to the moderate γ "
            "(the γ of peak mean test accuracy)",
            " > ".join(f"{r:.3f}" for r in ramp) + f" (up to γ = {peak:g})",
            ok,
            "strictly decreasing over ≥ 2 grid points",
            null=Null(INIT_RAMP, " > ".join(f"{r:.3f}" for r in ramp0) + f" (up to γ = {peak0:g})", passed=ok0),
            method="exact",
            power=f"{len(ramp)} grid points; no interval (a strict order of means over inits)",
            source=src,
            note="the rule as first written (before commit 841c1c1); the initialisations do not depend on γ",
        )
    )
    ok, ramp, moderate, tau = _trend_rule(cfg, tab, sg)
    ok0, ramp0, _, tau0 = _trend_rule(cfg, tab0, sg)
    res.metrics["moderate_gamma"] = float(moderate)
    if np.isfinite(tau):  # a constant ramp (the untrained control) has no τ
        res.metrics["kratio_tau"] = tau
    off = [
        f"{g:g} (W2²/Var {tab[g][:, 4].mean():.1e}, K/W2² {np.nanmedian(tab[g][:, 2]):.3g})"
        for g in sg
        if tab[g][:, 4].mean() < cfg.active_floor
    ]
    res.claims.append(
        claim_true(
            "kinetic_ratio_decreases_posthoc",
            f"ResNet K/W2² (median over inits) decreases towards 1 as γ grows from 0 to the moderate γ = {moderate:g} "
            f"(moderate_gamma = {cfg.moderate_gamma!r})",
            " → ".join(f"{r:.3f}" for r in ramp)
            + f" (Kendall τ {tau:.2f})"
            + (f"; stream switched off by the decay (0/0, not judged) at γ = {', '.join(off)}" if off else ""),
            ok,
            f"≥ 3 grid points, Kendall τ <= {cfg.trend_tau:g}, excess over 1 at least halved",
            null=Null(INIT_RAMP, " → ".join(f"{r:.3f}" for r in ramp0) + f" (Kendall τ {tau0:.2f})", passed=ok0),
            method="exact",
            power=f"{len(ramp)} grid points; no interval",
            source=src,
            note="chosen in commit 841c1c1 after the original rule failed on digits (k = 8); post hoc, never counted",
        )
    )
    return moderate


def _peakpaired_gain(acc: dict[float, np.ndarray], sg: list[float]) -> tuple[bool, float, MeanCI]:
    """Choose the peak γ on the first half of the inits, test its gain over γ = 0 on the other half (paired t)."""
    half = len(acc[0.0]) // 2
    j = int(np.argmax([acc[g][:half].mean() if half else np.nan for g in sg]))  # ties go to the smaller γ
    ci = mean_ci(acc[sg[j]][half:] - acc[0.0][half:])
    return bool(half > 0 and 0 < j < len(sg) - 1 and ci.lo < ci.hi and ci.lo > 0), sg[j], ci


def accuracy_claim(cfg: Any, res: ExperimentResult, st: Stats) -> None:
    """Test accuracy peaks at a moderate γ (Gai & Zhang's ResNet: 74.5 % at γ = 0, 79.7 % at 5e-3)."""
    sg = sorted(cfg.gammas)
    ok, peak, ci = _peakpaired_gain({g: st[("resnet", g)]["rows"][:, 3] for g in sg}, sg)
    ok0, peak0, ci0 = _peakpaired_gain({g: st[("resnet", g)]["init"][:, 3] for g in sg}, sg)
    res.metrics.update({"resnet_acc_peak_gamma": float(peak), "resnet_acc_peak_gain": ci.mean})
    half = cfg.seeds // 2
    res.claims.append(
        claim_true(
            "accuracy_peaks_moderate",
            f"ResNet test accuracy peaks at a moderate γ (neither 0 nor the largest), chosen on inits 0-{half - 1}, "
            f"above its γ = 0 value on the other {cfg.seeds - half} inits (paired CI)",
            f"peak at γ = {peak:g}, gain {ci.mean:+.3f}",
            ok,
            "interior peak on the first half of the inits, gain CI > 0 on the second half",
            ci=ci.ci,
            null=Null(INIT_RAMP, f"peak at γ = {peak0:g}, gain {ci0.mean:+.3f}", ci0.ci, passed=ok0),
            method="t-mean",
            power=power(ci),
            control=float(st[("resnet", 0.0)]["rows"][:, 3].mean()),
            source=f"{GZ}: ResNet accuracy 74.5 % (γ = 0) → 79.7 % (γ = 5e-3)",
            note="the peak is chosen on one half of the inits and tested on the other (no winner's curse)",
        )
    )
