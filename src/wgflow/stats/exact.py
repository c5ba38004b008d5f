r"""Exact tests for success rates, equivalence, and the power of a t test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats

from .intervals import Interval, check_level


@dataclass(frozen=True)
class ProportionCI(Interval):
    """k successes in n trials with the exact (1 - level) interval [lo, hi] for the success
    rate; unpacks as ``lo, hi``."""

    k: int
    n: int
    lo: float
    hi: float
    level: float
    method: str = "clopper-pearson"

    @property
    def rate(self) -> float:
        return self.k / self.n

    def __iter__(self):
        return iter(self.ci)


def clopper_pearson(k: int, n: int, *, level: float = 0.05) -> ProportionCI:
    r"""Exact two-sided interval for a binomial rate (Clopper & Pearson 1934):

    .. math:: [\,B^{-1}(\alpha/2;\,k,\,n-k+1),\; B^{-1}(1-\alpha/2;\,k+1,\,n-k)\,]

    with :math:`B^{-1}` the beta quantile, lo = 0 at k = 0 and hi = 1 at k = n. Coverage is at
    least 1 - level at every rate and n.
    """
    check_level(level)
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"clopper_pearson needs 0 <= k <= n, n >= 1; got k = {k}, n = {n}")
    lo = 0.0 if k == 0 else float(scipy.stats.beta.ppf(level / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(scipy.stats.beta.ppf(1 - level / 2, k + 1, n - k))
    return ProportionCI(int(k), int(n), lo, hi, level)


@dataclass(frozen=True)
class ExactTest:
    """p-value of an exact test, with the statistic it conditions on (the 2x2 table's odds ratio)."""

    p: float
    statistic: float
    alternative: str
    method: str = "fisher-exact"


def fisher_exact(
    k1: int, n1: int, k2: int, n2: int, *, alternative: Literal["greater", "less", "two-sided"] = "greater"
) -> ExactTest:
    """Fisher's exact test (Fisher 1935) of success rates k1/n1 against k2/n2 on the table
    [[k1, n1 - k1], [k2, n2 - k2]]; "greater" tests whether group 1's rate exceeds group 2's.
    The p-value is the hypergeometric tail of k1 given the margins (2/10 against 0/10: 0.2368)."""
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError(f"fisher_exact needs 0 <= k <= n in each group; got {k1}/{n1}, {k2}/{n2}")
    r = scipy.stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative=alternative)
    return ExactTest(float(r.pvalue), float(r.statistic), alternative)


# --- equivalence and power ---------------------------------------------------------------------


def within(lo: float, hi: float, target: float, delta: float) -> bool:
    """Equivalence: the interval [lo, hi] lies inside [target - delta, target + delta].

    A non-finite or zero-width interval fails: it is a single realisation, not evidence."""
    if not np.isfinite([lo, hi, target, delta]).all() or not hi > lo:
        return False
    return bool(target - delta <= lo and hi <= target + delta)


def min_detectable_effect(se: float, df: float, *, level: float = 0.05, power: float = 0.8) -> float:
    r"""Smallest true effect a two-sided t test at this se and df detects with probability
    ``power``: :math:`(t_{1-\alpha/2,\nu} + t_{\text{power},\nu})\,\mathrm{se}` (the normal
    approximation of the noncentral t, slightly optimistic at small df).

    An interval that contains 0 while this is small says "no effect"; while it is large, "not
    enough data". nan when se or df is nan (a degenerate interval detects nothing)."""
    check_level(level)
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if not (np.isfinite(se) and df > 0):
        return float("nan")
    return float((scipy.stats.t.ppf(1 - level / 2, df) + scipy.stats.t.ppf(power, df)) * se)
