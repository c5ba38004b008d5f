r"""lazy-vs-active's claims: the movement slope, the lazy network against its linearisation, active against lazy.

Each claim is judged by one rule on the run's statistic and on its null, the same statistic where a
skeptic would look instead (Chizat, Oyallon & Bach 2019, §2 and Fig. 2):

1. ``movement_slope``: the relative movement m(tau) = |theta_T - theta_0| / |theta_0| ~ tau^s over the
   lazy window, s by the mean of the draws' log-log slopes (every draw is trained at every tau, so the
   draw is the cluster: :func:`wgflow.stats.fit_power_law` with ``clusters``); the cluster-t interval
   must lie within -1 ± ``slope_delta``. Null: the same fit over the active window.
2. ``lazy_matches_linearisation``: at the largest scale the gap |tau f - tau f_lin| / |tau f_lin| on
   test points has a t interval below ``agree_tol``. Null: the same gap at the smallest scale.
3. ``active_beats_lazy``: the test-loss ratio active (smallest tau) / lazy (largest tau) has a t
   interval below 1. Null: the same ratio for the linearised models trained at those two scales.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...harness import Null, claim_ci_below, claim_ci_within
from ...stats import PowerLawFit, fit_power_law_or_nan, mean_ci, min_detectable_effect

SOURCE = "Chizat, Oyallon & Bach, NeurIPS 2019, Thm 2.2-2.4 and Fig. 2"
NULL_SLOPE = "the same cluster fit over the active window active_taus (same draws)"
NULL_GAP = "the same gap at the smallest scale of active_taus (active regime, same draws)"
NULL_RATIO = "the same test-loss ratio for the linearised models trained at the same two scales (same draws and steps)"


def movement_fit(taus, move: np.ndarray) -> PowerLawFit:
    """Slope of log m against log tau, move (draws, taus): per-draw slopes and a cluster t over draws
    (nan when a movement is 0: nothing moved, no fit)."""
    n = np.broadcast_to(np.asarray(taus, dtype=float), move.shape)  # (draws, taus)
    ids = np.broadcast_to(np.arange(move.shape[0])[:, None], move.shape)
    return fit_power_law_or_nan(n.ravel(), move.ravel(), clusters=ids.ravel())


def slope_bias(lazy_taus, a: float = 1.0) -> float:
    r"""Bias of the least-squares log-log slope over ``lazy_taus`` when m(tau) = (C/tau)(1 + a/tau):

    .. math:: s - (-1) \approx a \sum_j w_j / \tau_j, \qquad w_j = (x_j - \bar x) / \sum_k (x_k - \bar x)^2,
              \ x_j = \log \tau_j

    (log(1 + a/tau) ~ a/tau to first order). With |a| <= min(lazy_taus)/2, a correction at most half
    the leading term where the window starts, its size bounds ``slope_delta``.
    """
    x = np.log(np.asarray(lazy_taus, dtype=float))
    w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    return float(a * (w / np.exp(x)).sum())


class Measured(NamedTuple):
    """Per-draw statistics of the trained models at every scale, each (draws, taus) with taus ascending."""

    taus: list
    move: np.ndarray  # relative movement of the network
    move_lin: np.ndarray  # the same for the linearised model
    gap: np.ndarray  # |tau f - tau f_lin| / |tau f_lin| on test points
    test: np.ndarray  # test loss of the network
    test_lin: np.ndarray  # test loss of the linearised model


def _power(fit: PowerLawFit, what: str) -> str:
    return f"interval width {fit.hi - fit.lo:.3g}; {what} >= {min_detectable_effect(fit.se, fit.df):.3g} detectable"


def claims(cfg, r: Measured) -> list:
    """The three claims with their nulls (see the module docstring)."""
    taus = np.asarray(r.taus)
    lazy, active = np.isin(taus, cfg.lazy_taus), np.isin(taus, cfg.active_taus)
    fit, fit_null = movement_fit(taus[lazy], r.move[:, lazy]), movement_fit(taus[active], r.move[:, active])
    fit_lin = movement_fit(taus[lazy], r.move_lin[:, lazy])
    gap, gap_null = mean_ci(r.gap[:, -1]), mean_ci(r.gap[:, 0])
    ratio, ratio_null = mean_ci(r.test[:, 0] / r.test[:, -1]), mean_ci(r.test_lin[:, 0] / r.test_lin[:, -1])
    lo, hi = taus[0], taus[-1]
    return [
        claim_ci_within(
            "movement_slope",
            "relative parameter movement |theta_T - theta_0|/|theta_0| ~ tau^s over the lazy window tau in "
            f"{tuple(cfg.lazy_taus)}: log-log slope s, mean of the per-draw slopes over {cfg.seeds} draws",
            fit.slope,
            fit.ci,
            -1.0,
            cfg.slope_delta,
            source=SOURCE,
            null=Null(NULL_SLOPE, fit_null.slope, fit_null.ci),
            method="cluster-slope",
            power=_power(fit, "slope shifts"),
            control=fit_lin.slope,
            note=f"control: the linearised model's slope (-1 by scaling at constant eta); O(1/tau) bias bound "
            f"{abs(slope_bias(cfg.lazy_taus, min(cfg.lazy_taus) / 2)):.3g}",
        ),
        claim_ci_below(
            "lazy_matches_linearisation",
            f"at tau = {hi:.3g} the trained network and its trained linearisation agree on test points: "
            f"|tau f - tau f_lin| / |tau f_lin|, mean over {cfg.seeds} draws",
            gap.mean,
            gap.ci,
            cfg.agree_tol,
            source=SOURCE,
            null=Null(NULL_GAP, gap_null.mean, gap_null.ci),
            method="t-mean",
            power=f"interval width {gap.hi - gap.lo:.3g}",
        ),
        claim_ci_below(
            "active_beats_lazy",
            f"the active regime (tau = {lo:.3g}) reaches a lower test loss than the lazy one (tau = {hi:.3g}): "
            f"test loss ratio active / lazy, mean over {cfg.seeds} draws",
            ratio.mean,
            ratio.ci,
            1.0,
            source=SOURCE,
            null=Null(NULL_RATIO, ratio_null.mean, ratio_null.ci),
            method="t-mean",
            power=f"interval width {ratio.hi - ratio.lo:.3g}; ratios <= "
            f"{1 - min_detectable_effect(ratio.se, ratio.df):.3g} detectable",
            control=1.0,
            note="control: 1, the ratio without training (both output f(theta_0) = 0)",
        ),
    ]


def metrics(cfg, r: Measured) -> dict:
    """Fits and per-scale means reported beside the claims."""
    taus = np.asarray(r.taus)
    lazy, active = np.isin(taus, cfg.lazy_taus), np.isin(taus, cfg.active_taus)
    fit, fit_null = movement_fit(taus[lazy], r.move[:, lazy]), movement_fit(taus[active], r.move[:, active])
    with np.errstate(divide="ignore", invalid="ignore"):  # untrained: log 0
        local = np.diff(np.log(r.move.mean(0))) / np.diff(np.log(taus))  # (taus - 1,) local slopes of the mean
    return {
        "movement_slope": fit.slope,
        "movement_slope_lo": fit.lo,
        "movement_slope_hi": fit.hi,
        "movement_slope_active": fit_null.slope,
        "movement_slope_linearised": movement_fit(taus[lazy], r.move_lin[:, lazy]).slope,
        "slope_bias_bound": abs(slope_bias(cfg.lazy_taus, min(cfg.lazy_taus) / 2)),
        "gap_largest_tau": float(r.gap[:, -1].mean()),
        "gap_smallest_tau": float(r.gap[:, 0].mean()),
        "test_active": float(r.test[:, 0].mean()),
        "test_lazy": float(r.test[:, -1].mean()),
        "test_ratio_linearised": float((r.test_lin[:, 0] / r.test_lin[:, -1]).mean()),
        **{f"test_tau{t:.3g}": float(v) for t, v in zip(taus, r.test.mean(0))},
        **{f"movement_tau{t:.3g}": float(v) for t, v in zip(taus, r.move.mean(0))},
        **{f"local_slope_tau{a:.3g}-{b:.3g}": float(v) for a, b, v in zip(taus[:-1], taus[1:], local)},
    }
