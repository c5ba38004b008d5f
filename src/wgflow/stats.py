r"""Scaling fits: log-log regression with bootstrap confidence intervals.

Every scaling claim of the sources is an exponent: the loss of RVE decays like
n^{-1}, fluctuations like n^{-1/2}, W2 between finite and infinite width like
n^{-1/2}. :func:`fit_power_law` fits

    log y = log C + s log n

by least squares on the per-n means of log y, and gives a percentile bootstrap
confidence interval for s by resampling the realisations (seeds, targets)
independently at each n (Efron & Tibshirani 1993, ch. 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLawFit", "fit_power_law", "fit_power_law_or_nan", "loglog_slope", "MeanCI", "mean_ci"]


@dataclass(frozen=True)
class PowerLawFit:
    """y ≈ C n^slope, with a (1 - level) bootstrap interval [lo, hi] for the slope."""

    slope: float
    intercept: float  # log C
    lo: float
    hi: float
    level: float
    n: np.ndarray  # distinct n
    y_mean: np.ndarray  # geometric mean of y at each n

    def predict(self, n) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(n, dtype=float) ** self.slope

    def __str__(self) -> str:
        return f"slope {self.slope:.3f} [{self.lo:.3f}, {self.hi:.3f}] ({100 * (1 - self.level):.0f}% CI)"

    def to_dict(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept, "lo": self.lo, "hi": self.hi, "level": self.level}


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


def fit_power_law(n, y, *, n_boot: int = 2000, level: float = 0.05, seed: int = 0) -> PowerLawFit:
    """Fit y ≈ C n^s over realisations.

    Parameters
    ----------
    n : (N,) values of the size parameter (repeats allowed: one entry per realisation).
    y : (N,) positive observable (loss, std, distance), one per entry of n.
    n_boot : bootstrap resamples (realisations resampled with replacement within each n).
    level : 1 - confidence (0.05 gives a 95% interval).

    Returns
    -------
    PowerLawFit with the slope of the log-mean-per-n regression and its percentile interval.
    With a single realisation per n the interval is degenerate (lo = hi = slope).
    """
    n = np.asarray(n, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if n.shape != y.shape:
        raise ValueError(f"n and y must have the same length, got {n.size} and {y.size}")
    if (y <= 0).any() or not np.isfinite(y).all():
        raise ValueError("fit_power_law needs positive finite observations y")
    levels = np.unique(n)
    if levels.size < 2:
        raise ValueError("fit_power_law needs at least two distinct values of n")
    groups = [np.log(y[n == v]) for v in levels]
    ly = np.array([g.mean() for g in groups])
    slope, intercept = np.polyfit(np.log(levels), ly, 1)
    rng = np.random.default_rng(seed)
    if max(len(g) for g in groups) > 1:
        boot = np.empty(n_boot)
        for b in range(n_boot):
            means = [g[rng.integers(0, len(g), len(g))].mean() for g in groups]
            boot[b] = np.polyfit(np.log(levels), means, 1)[0]
        lo, hi = np.quantile(boot, [level / 2, 1 - level / 2])
    else:
        lo = hi = slope
    return PowerLawFit(float(slope), float(intercept), float(lo), float(hi), level, levels, np.exp(ly))


def fit_power_law_or_nan(
    n, y, *, floor: float = 0.0, n_boot: int = 2000, level: float = 0.05, seed: int = 0
) -> PowerLawFit:
    """:func:`fit_power_law`, or a fit whose slope and interval are nan when some y is <= ``floor``
    or not finite (nothing moved: a claim judged on it fails instead of the run crashing)."""
    y = np.asarray(y, dtype=float)
    if (y > floor).all() and np.isfinite(y).all():
        return fit_power_law(n, y, n_boot=n_boot, level=level, seed=seed)
    nan, levels = float("nan"), np.unique(np.asarray(n, dtype=float))
    return PowerLawFit(nan, nan, nan, nan, level, levels, np.full(levels.size, nan))


@dataclass(frozen=True)
class MeanCI:
    """Mean of realisations with a (1 - level) percentile-bootstrap interval [lo, hi]."""

    mean: float
    lo: float
    hi: float
    level: float
    count: int

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    def __str__(self) -> str:
        return (
            f"{self.mean:.4g} [{self.lo:.4g}, {self.hi:.4g}] ({100 * (1 - self.level):.0f}% CI, {self.count} samples)"
        )


def mean_ci(values, *, n_boot: int = 2000, level: float = 0.05, seed: int = 0) -> MeanCI:
    """Mean of ``values`` (one per seed or realisation) with a percentile bootstrap interval.

    With a single value the interval is degenerate (lo = hi = mean): claims judged on a
    CI then fail, since one realisation is not evidence.
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    m = float(v.mean())
    if v.size == 1 or not np.isfinite(v).all():
        return MeanCI(m, m, m, level, int(v.size))
    rng = np.random.default_rng(seed)
    boot = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    lo, hi = np.quantile(boot, [level / 2, 1 - level / 2])
    return MeanCI(m, float(lo), float(hi), level, int(v.size))
