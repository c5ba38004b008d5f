r"""Calibrated statistics: intervals whose coverage is checked, exact tests, power.

A claim is evidence only if its interval covers the truth at the stated rate, at the number of
seeds the experiment actually runs. The t intervals are exact for normal data and the proportion
tests exact by construction; :func:`simulate_coverage` measures the rest (Welch's approximate
degrees of freedom, the bootstrap, skewed noise) at the experiments' own designs
(``tests/test_coverage_designs.py``). :mod:`~wgflow.stats.intervals` holds the intervals for
means and exponents, :mod:`~wgflow.stats.exact` the exact tests, equivalence and power,
:mod:`~wgflow.stats.coverage` the simulation.

* :func:`mean_ci`, ``method="t"``: the Student-t interval [1] for the mean of n realisations,

  .. math:: \bar v \pm t_{1-\alpha/2,\,n-1}\, s/\sqrt n ,

  exact for normal data at every n >= 2. ``method="bca"``: the bias-corrected and accelerated
  bootstrap [5] (``scipy.stats.bootstrap``), for skewed data at larger n.
* :func:`fit_power_law` fits :math:`\log y = \log C + s \log n` by least squares on the
  per-level means of log y, so :math:`\hat s = \sum_j w_j \bar\ell_j` with
  :math:`w_j = (x_j - \bar x)/\sum_k (x_k - \bar x)^2`, :math:`x_j = \log n_j`.
  With independent realisations at each level ("welch-t") its variance is
  :math:`\sum_j w_j^2 s_j^2/m_j` and the interval is a t with Welch–Satterthwaite degrees of
  freedom [2]. When the same realisation (target, training set) is observed at every level,
  the levels are not independent: ``clusters`` names the realisation of each entry, one slope
  is fitted per realisation and the interval is a Student t over realisations ("cluster-t",
  the cluster-robust inference of [6] with the realisation as the cluster).
* :func:`clopper_pearson`: the exact binomial interval [3]; :func:`fisher_exact`: the exact
  one-sided test of two success rates on the 2x2 table [4].
* :func:`within`: equivalence, an interval inside [target - delta, target + delta];
  :func:`min_detectable_effect`: the effect a t test at this se and df detects with a given
  power, so a report separates "no effect" from "not enough data".

References
----------
1. Student (1908), The probable error of a mean. Biometrika 6(1).
2. Welch (1947), The generalization of "Student's" problem when several different population
   variances are involved. Biometrika 34(1/2).
3. Clopper & Pearson (1934), The use of confidence or fiducial limits illustrated in the case
   of the binomial. Biometrika 26(4).
4. Fisher (1935), The logic of inductive inference. J. R. Stat. Soc. 98(1).
5. Efron (1987), Better bootstrap confidence intervals. J. Am. Stat. Assoc. 82(397).
6. Cameron, Gelbach & Miller (2008), Bootstrap-based improvements for inference with
   clustered errors. Rev. Econ. Stat. 90(3).
"""

from .coverage import COVERAGE_METHODS, TRUE_SLOPE, simulate_coverage
from .exact import ExactTest, ProportionCI, clopper_pearson, fisher_exact, min_detectable_effect, within
from .intervals import MeanCI, PowerLawFit, fit_power_law, fit_power_law_or_nan, loglog_slope, mean_ci

__all__ = [
    "MeanCI",
    "mean_ci",
    "PowerLawFit",
    "fit_power_law",
    "fit_power_law_or_nan",
    "loglog_slope",
    "ProportionCI",
    "clopper_pearson",
    "ExactTest",
    "fisher_exact",
    "within",
    "min_detectable_effect",
    "simulate_coverage",
    "COVERAGE_METHODS",
    "TRUE_SLOPE",
]
