r"""Intervals for a mean and for a power-law exponent, batched over leading dimensions.

The cores (:func:`t_bounds`, :func:`welch_slope`, :func:`cluster_slope`) take per-level
summaries with any leading shape, so :func:`wgflow.stats.simulate_coverage` judges thousands of
simulated experiments with the very code :func:`mean_ci` and :func:`fit_power_law` run once.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats

# SciPy names the bootstrap's generator ``rng`` from 1.15 and ``random_state`` before (the floor is 1.10)
_BOOTSTRAP_RNG = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"

_NAN = float("nan")


def t_bounds(est, se, df, level: float):
    """est -/+ t_{1-level/2, df} se (Student 1908), elementwise over any shape."""
    q = scipy.stats.t.ppf(1 - level / 2, df)
    return est - q * se, est + q * se


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level is 1 - confidence, in (0, 1); got {level}")


class Interval:
    """What every interval result shares: bounds ``lo``, ``hi`` (fields of the dataclass)."""

    lo: float
    hi: float

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    @property
    def width(self) -> float:
        return self.hi - self.lo


# --- means -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanCI(Interval):
    """Mean of realisations with a (1 - level) interval [lo, hi]; se and df are nan where the
    method defines none (df of the bootstrap, anything for a single realisation)."""

    mean: float
    lo: float
    hi: float
    level: float
    count: int
    method: str = "t"
    se: float = _NAN
    df: float = _NAN

    def __str__(self) -> str:
        return (
            f"{self.mean:.4g} [{self.lo:.4g}, {self.hi:.4g}] ({100 * (1 - self.level):.0f}% {self.method} CI, "
            f"{self.count} samples)"
        )


def mean_ci(
    values,
    *,
    level: float = 0.05,
    method: Literal["t", "bca", "percentile"] = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> MeanCI:
    """Mean of ``values`` (one per seed or realisation) with a (1 - level) interval.

    Parameters
    ----------
    values : (n,) realisations.
    level : 1 - confidence (0.05 gives a 95% interval).
    method : "t", Student's interval (exact for normal data, n >= 2); "bca", the BCa bootstrap
        of the mean (``n_boot`` resamples, generator seeded by ``seed``), a large-sample method
        that under-covers at the few seeds of an experiment (measure it with
        :func:`simulate_coverage` before using it); "percentile", the percentile bootstrap,
        kept only as the reference failure: it ignores the (n - 1)/n shrinkage of the
        resampled spread and the t tails, and under-covers badly at small n.

    With a single value, or a non-finite one, the interval is degenerate (lo = hi = mean):
    claims judged on a CI then fail, since one realisation is not evidence.
    """
    check_level(level)
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    m, n = float(v.mean()), int(v.size)
    if n == 1 or not np.isfinite(v).all():
        return MeanCI(m, m, m, level, n, method)
    if method == "t":
        se, df = float(v.std(ddof=1) / np.sqrt(n)), float(n - 1)
        lo, hi = t_bounds(m, se, df, level)
        return MeanCI(m, float(lo), float(hi), level, n, method, se, df)
    rng = np.random.default_rng(seed)
    if method == "bca":
        if np.ptp(v) == 0:  # every resample equal: BCa's acceleration is 0/0
            return MeanCI(m, m, m, level, n, method, 0.0)
        kw = {_BOOTSTRAP_RNG: rng}
        r = scipy.stats.bootstrap((v,), np.mean, n_resamples=n_boot, confidence_level=1 - level, **kw)
        ci = r.confidence_interval
        return MeanCI(m, float(ci.low), float(ci.high), level, n, method, float(r.standard_error))
    if method == "percentile":
        boot = v[rng.integers(0, n, (n_boot, n))].mean(axis=1)
        lo, hi = np.quantile(boot, [level / 2, 1 - level / 2])
        return MeanCI(m, float(lo), float(hi), level, n, method, float(boot.std(ddof=1)))
    raise ValueError(f"unknown mean_ci method {method!r} (t, bca, percentile)")


# --- power laws --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLawFit(Interval):
    """y ≈ C n^slope, with a (1 - level) interval [lo, hi] for the slope (method "welch-t" or
    "cluster-t"; se and df are nan where the interval is degenerate)."""

    slope: float
    intercept: float  # log C
    lo: float
    hi: float
    level: float
    n: np.ndarray  # distinct n
    y_mean: np.ndarray  # geometric mean of y at each n
    method: str = "welch-t"
    se: float = _NAN
    df: float = _NAN

    def predict(self, n) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(n, dtype=float) ** self.slope

    def __str__(self) -> str:
        return f"slope {self.slope:.3f} [{self.lo:.3f}, {self.hi:.3f}] ({100 * (1 - self.level):.0f}% {self.method} CI)"

    def to_dict(self) -> dict:
        keys = ("slope", "intercept", "lo", "hi", "level", "method", "se", "df")
        return {k: getattr(self, k) for k in keys}


def loglog_slope(n, y) -> tuple[float, float]:
    """Least-squares slope and intercept of log y against log n (all y > 0)."""
    n = np.asarray(n, dtype=float)
    y = np.asarray(y, dtype=float)
    if n.shape != y.shape or n.size < 2:
        raise ValueError(f"loglog_slope needs two arrays of the same length >= 2, got {n.shape} and {y.shape}")
    if (n <= 0).any() or (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("loglog_slope needs positive finite n and y")
    slope, intercept = np.polyfit(np.log(n), np.log(y), 1)
    return float(slope), float(intercept)


def slope_weights(levels) -> np.ndarray:
    """w_j with sum_j w_j lbar_j the least-squares slope of lbar_j against x_j = log n_j; (k,)."""
    x = np.log(np.asarray(levels, dtype=float))
    return (x - x.mean()) / ((x - x.mean()) ** 2).sum()


def welch_slope(w, mean, var, count):
    """Slope sum_j w_j mean_j, its se and Welch–Satterthwaite df, from per-level summaries
    (..., k) with independent realisations at each level."""
    a = w**2 * var / count  # (..., k) variance contributions
    se2 = a.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):  # every var 0: df 0/0, se 0
        df = se2**2 / (a**2 / (count - 1)).sum(-1)
    return (w * mean).sum(-1), np.sqrt(se2), df


def cluster_slope(w, cells):
    """Mean of per-realisation slopes cells @ w, its se and df, from cells (..., R, k)."""
    b = cells @ w  # (..., R)
    r = b.shape[-1]
    return b.mean(-1), b.std(-1, ddof=1) / np.sqrt(r), np.full(b.shape[:-1], r - 1.0)


def fit_power_law(
    n, y, *, clusters=None, level: float = 0.05, n_boot: int | None = None, seed: int | None = None
) -> PowerLawFit:
    r"""Fit y ≈ C n^s over realisations: least squares of the per-level mean of log y on log n.

    Parameters
    ----------
    n : (N,) values of the size parameter (repeats allowed: one entry per realisation).
    y : (N,) positive observable (loss, std, distance), one per entry of n.
    clusters : (N,) optional realisation id of each entry, when the same realisation (target
        function, training set, seed) is observed at every level. Each realisation must appear
        at every level (repeats within a level are averaged in log). The slope is then the
        mean of the per-realisation slopes (the same number for one entry per realisation and
        level) and the interval a Student t over realisations, R - 1 degrees of freedom.
    level : 1 - confidence (0.05 gives a 95% interval).
    n_boot, seed : accepted for callers written for the former bootstrap interval; the t
        intervals use neither.

    Returns
    -------
    PowerLawFit
        Without ``clusters`` the interval is :math:`\hat s \pm t_{1-\alpha/2,\nu}\,
        (\sum_j w_j^2 s_j^2/m_j)^{1/2}` with Welch–Satterthwaite :math:`\nu` (method "welch-t").
        With a single realisation at some level (or a single realisation) the interval is
        degenerate, lo = hi = slope, and se = df = nan.
    """
    check_level(level)
    n = np.asarray(n, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if n.shape != y.shape:
        raise ValueError(f"n and y must have the same length, got {n.size} and {y.size}")
    if (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("fit_power_law needs positive finite observations y")
    levels = np.unique(n)
    if levels.size < 2:
        raise ValueError("fit_power_law needs at least two distinct values of n")
    w = slope_weights(levels)
    ly = np.log(y)
    groups = [ly[n == v] for v in levels]
    se = df = _NAN
    if clusters is None:
        method, lbar = "welch-t", np.array([g.mean() for g in groups])
        count = np.array([g.size for g in groups], dtype=float)
        if count.min() >= 2:
            var = np.array([g.var(ddof=1) for g in groups])
            _, se, df = (float(t) for t in welch_slope(w, lbar, var, count))
    else:
        cells = _cells(n, ly, clusters, levels)  # (R, k)
        method, lbar = "cluster-t", cells.mean(0)
        if cells.shape[0] >= 2:
            _, se, df = (float(t) for t in cluster_slope(w, cells))
    slope = float(w @ lbar)
    lo, hi = t_bounds(slope, se, df, level) if se > 0 else (slope, slope)  # nan se: degenerate
    intercept = float(lbar.mean() - slope * np.log(levels).mean())
    y_mean = np.exp([g.mean() for g in groups])
    return PowerLawFit(slope, intercept, float(lo), float(hi), level, levels, y_mean, method, se, df)


def _cells(n, ly, clusters, levels) -> np.ndarray:
    """(R, k) mean log y of each realisation at each level; every realisation at every level."""
    c = np.asarray(clusters).ravel()
    if c.shape != n.shape:
        raise ValueError(f"clusters must name the realisation of each entry, got {c.size} for {n.size}")
    ids = np.unique(c)
    cells = np.empty((ids.size, levels.size))
    for i, r in enumerate(ids):
        for j, v in enumerate(levels):
            sel = ly[(c == r) & (n == v)]
            if sel.size == 0:
                raise ValueError(f"realisation {r!r} is not observed at n = {v:g}: clusters need every level")
            cells[i, j] = sel.mean()
    return cells


def fit_power_law_or_nan(
    n, y, *, floor: float = 0.0, clusters=None, level: float = 0.05, n_boot: int | None = None, seed: int | None = None
) -> PowerLawFit:
    """:func:`fit_power_law`, or a fit whose slope and interval are nan when some y is <= ``floor``
    or not finite (nothing moved: a claim judged on it fails instead of the run crashing)."""
    y = np.asarray(y, dtype=float)
    if (y > floor).all() and np.isfinite(y).all():
        return fit_power_law(n, y, clusters=clusters, level=level)
    levels = np.unique(np.asarray(n, dtype=float))
    method = "welch-t" if clusters is None else "cluster-t"
    return PowerLawFit(_NAN, _NAN, _NAN, _NAN, level, levels, np.full(levels.size, _NAN), method)
