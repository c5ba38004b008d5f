"""The statistics every claim is judged with: closed forms, exact tests, and measured coverage.

Coverage is simulated with :func:`wgflow.stats.simulate_coverage` at fixed seeds (the tests are
deterministic). The t and slope methods are cheap, so they run 20 000 trials or more: the
binomial standard error (<= 0.0016) is then small against the margin to the 0.93 floor, and a
failure says the method under-covers, not that the simulation was unlucky.
"""

import numpy as np
import pytest
import scipy.stats

from wgflow.stats import (
    clopper_pearson,
    fisher_exact,
    fit_power_law,
    fit_power_law_or_nan,
    loglog_slope,
    mean_ci,
    min_detectable_effect,
    simulate_coverage,
    within,
)
from wgflow.stats.intervals import _BOOTSTRAP_RNG

# --- mean_ci -----------------------------------------------------------------------------------


def test_t_interval_is_the_textbook_one():
    # [1, 2, 4]: mean 7/3, s^2 = 7/3, se = sqrt(7/9), t_{0.975, 2} = 4.302653 (any t table)
    r = mean_ci([1.0, 2.0, 4.0])
    half = 4.302653 * np.sqrt(7 / 9)
    assert r.method == "t" and r.df == 2 and r.count == 3
    np.testing.assert_allclose(
        [r.mean, r.se, r.lo, r.hi], [7 / 3, np.sqrt(7 / 9), 7 / 3 - half, 7 / 3 + half], rtol=1e-6
    )
    assert r.width == pytest.approx(2 * half) and r.ci == (r.lo, r.hi)
    r90 = mean_ci([1.0, 2.0, 4.0], level=0.1)  # t_{0.95, 2} = 2.919986
    assert r90.hi - r90.mean == pytest.approx(2.919986 * np.sqrt(7 / 9), rel=1e-6)


def test_one_or_a_non_finite_realisation_is_a_degenerate_interval():
    for v in ([3.0], [1.0, np.nan], [1.0, np.inf]):
        for method in ("t", "bca", "percentile"):
            r = mean_ci(v, method=method)
            assert r.lo == r.hi or np.isnan([r.lo, r.hi]).all()
            assert not within(r.lo, r.hi, r.mean, 1e9)  # it is no evidence of anything
    assert mean_ci([2.0, 2.0, 2.0]).width == 0 and mean_ci([2.0, 2.0], method="bca").width == 0


def test_bca_and_percentile_are_scipys_and_the_textbook_ones():
    v = np.random.default_rng(0).gamma(2.0, size=15)
    r = mean_ci(v, method="bca", n_boot=999, seed=4)
    gen = {_BOOTSTRAP_RNG: np.random.default_rng(4)}  # `rng` from SciPy 1.15, `random_state` at the floor
    ref = scipy.stats.bootstrap((v,), np.mean, n_resamples=999, method="BCa", **gen)
    np.testing.assert_allclose([r.lo, r.hi], ref.confidence_interval, rtol=1e-12)
    assert r.method == "bca" and np.isnan(r.df) and r.se == pytest.approx(ref.standard_error)
    p = mean_ci(v, method="percentile", n_boot=4000, seed=1)
    boot = v[np.random.default_rng(1).integers(0, v.size, (4000, v.size))].mean(1)
    assert (p.lo, p.hi) == tuple(np.quantile(boot, [0.025, 0.975]))
    with pytest.raises(ValueError, match="unknown mean_ci method"):
        mean_ci(v, method="wald")


# --- fit_power_law -----------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [-1.0, -0.5, -2.0])
def test_recovers_known_exponent_from_noisy_realisations(slope):
    rng = np.random.default_rng(0)
    n = np.repeat([16, 32, 64, 128, 256], 10)
    y = 3.0 * n**slope * np.exp(0.2 * rng.standard_normal(n.size))  # log-normal scatter per realisation
    fit = fit_power_law(n, y, seed=1)  # seed: accepted from the bootstrap era, unused
    assert abs(fit.slope - slope) < 0.1 and fit.method == "welch-t"
    assert fit.lo <= fit.slope <= fit.hi and fit.width < 0.3
    np.testing.assert_allclose(fit.predict([16])[0], 3.0 * 16**slope, rtol=0.3)
    assert (fit.slope, fit.intercept) == pytest.approx(np.polyfit(np.log(fit.n), np.log(fit.y_mean), 1))


def test_welch_slope_interval_matches_a_direct_computation():
    # unequal counts and spreads per level; the weights come from polyfit of unit vectors
    rng = np.random.default_rng(1)
    counts, levels = [3, 5, 4, 7], np.array([10.0, 20.0, 40.0, 80.0])
    n = np.repeat(levels, counts)
    y = n**-0.7 * np.exp(rng.normal(0, np.repeat([0.5, 0.3, 0.2, 0.4], counts)))
    fit = fit_power_law(n, y)
    x = np.log(levels)
    w = np.array([np.polyfit(x, e, 1)[0] for e in np.eye(4)])
    groups = [np.log(y[n == v]) for v in levels]
    a = np.array([w_j**2 * g.var(ddof=1) / g.size for w_j, g in zip(w, groups, strict=True)])
    se = np.sqrt(a.sum())
    df = a.sum() ** 2 / sum(a_j**2 / (g.size - 1) for a_j, g in zip(a, groups, strict=True))
    q = scipy.stats.t.ppf(0.975, df)
    assert fit.slope == pytest.approx(w @ [g.mean() for g in groups])
    np.testing.assert_allclose([fit.se, fit.df, fit.lo, fit.hi], [se, df, fit.slope - q * se, fit.slope + q * se])
    assert min(counts) - 1 <= fit.df <= sum(counts) - len(counts)  # Satterthwaite's bounds
    assert fit.to_dict()["method"] == "welch-t" and "welch-t" in str(fit)


def test_cluster_interval_is_a_t_over_per_realisation_slopes():
    # 6 targets, each trained at every width; a target's difficulty shifts every width alike
    rng = np.random.default_rng(2)
    widths, targets = np.array([32, 64, 128, 256]), 6
    n, c = np.tile(widths, targets), np.repeat(np.arange(targets), widths.size)
    y = n**-1.0 * np.exp(rng.normal(0, 1.0, targets)[c] + rng.normal(0, 0.1, n.size))
    fit = fit_power_law(n, y, clusters=c)
    b = np.array([loglog_slope(widths, y[c == r])[0] for r in range(targets)])
    lo, hi = scipy.stats.t.interval(0.95, targets - 1, loc=b.mean(), scale=scipy.stats.sem(b))
    assert fit.method == "cluster-t" and fit.df == targets - 1
    np.testing.assert_allclose([fit.slope, fit.se, fit.lo, fit.hi], [b.mean(), scipy.stats.sem(b), lo, hi])
    assert fit.slope == pytest.approx(fit_power_law(n, y).slope)  # balanced: the same point estimate
    # the shared difficulty cancels in each target's slope; treating the targets as independent
    # draws at each width counts it as noise
    assert fit.width < fit_power_law(n, y).width / 5
    with pytest.raises(ValueError, match="not observed at n = 32"):
        fit_power_law(n, y, clusters=np.where(np.arange(n.size) == 0, 99, c))  # target 0 misses width 32
    with pytest.raises(ValueError, match="realisation of each entry"):
        fit_power_law(n, y, clusters=c[:-1])


def test_one_realisation_per_level_or_per_cluster_is_degenerate():
    n, y = np.array([8.0, 16, 32]), np.array([1.0, 0.5, 0.26])
    for fit in (fit_power_law(n, y), fit_power_law(n, y, clusters=[0, 0, 0])):
        assert fit.lo == fit.hi == fit.slope and np.isnan([fit.se, fit.df]).all()
        assert np.isnan(min_detectable_effect(fit.se, fit.df))


def test_fit_or_nan_fits_positive_data_and_is_nan_when_nothing_moved():
    n = np.repeat([8, 16, 32, 64], 3)
    y = n**-0.5 * np.exp(np.random.default_rng(0).normal(0, 0.05, n.size))
    a, b = fit_power_law_or_nan(n, y, seed=1), fit_power_law(n, y, seed=1)
    assert (a.slope, a.lo, a.hi) == (b.slope, b.lo, b.hi) and abs(a.slope + 0.5) < 0.1
    c = np.tile(np.arange(3), 4)
    assert fit_power_law_or_nan(n, y, clusters=c).to_dict() == fit_power_law(n, y, clusters=c).to_dict()
    for bad in (np.where(n == 8, 0.0, y), np.where(n == 8, np.nan, y), y):
        floor = 0.0 if bad is not y else 1.0  # every y <= 1: all below the floor
        f = fit_power_law_or_nan(n, bad, floor=floor)
        assert np.isnan([f.slope, f.lo, f.hi]).all() and list(f.n) == [8, 16, 32, 64]


# --- exact tests, equivalence, power -----------------------------------------------------------


def test_clopper_pearson_closed_forms_and_scipy():
    assert clopper_pearson(10, 10).lo == pytest.approx(0.025 ** (1 / 10)) == pytest.approx(0.6915, abs=1e-4)
    assert clopper_pearson(0, 10).hi == pytest.approx(1 - 0.025 ** (1 / 10)) == pytest.approx(0.3085, abs=1e-4)
    assert clopper_pearson(0, 10).lo == 0 and clopper_pearson(10, 10).hi == 1
    for k in range(11):
        ref = scipy.stats.binomtest(k, 10).proportion_ci(0.95, method="exact")
        lo, hi = clopper_pearson(k, 10)
        assert (lo, hi) == pytest.approx((ref.low, ref.high))
    r = clopper_pearson(3, 12, level=0.1)
    assert r.rate == 0.25 and r.method == "clopper-pearson" and r.width == r.hi - r.lo
    with pytest.raises(ValueError):
        clopper_pearson(11, 10)


def test_clopper_pearson_covers_at_least_nominally_at_every_rate():
    # exact coverage: sum of binomial probabilities of the k whose interval holds p
    n = 10
    bounds = np.array([tuple(clopper_pearson(k, n)) for k in range(n + 1)])
    for p in np.linspace(0.01, 0.99, 99):
        cover = bounds[:, 0] <= p
        cover &= p <= bounds[:, 1]
        assert scipy.stats.binom.pmf(np.arange(n + 1), n, p)[cover].sum() >= 0.95 - 1e-12


def test_fisher_exact_one_sided():
    r = fisher_exact(2, 10, 0, 10)
    assert r.p == pytest.approx(45 / 190) == pytest.approx(0.2368, abs=1e-4)  # C(10,2)/C(20,2)
    assert r.method == "fisher-exact" and r.alternative == "greater"
    assert fisher_exact(0, 10, 2, 10, alternative="less").p == pytest.approx(r.p)
    assert fisher_exact(0, 10, 2, 10).p == 1.0  # group 1 is not better
    assert fisher_exact(10, 10, 0, 10).p == pytest.approx(1 / 184756)  # 1 / C(20, 10)


def test_within_is_equivalence_and_refuses_degenerate_intervals():
    assert within(0.9, 1.1, 1.0, 0.1) and within(0.95, 1.0, 1.0, 0.1)
    assert not within(0.85, 1.05, 1.0, 0.1) and not within(0.95, 1.15, 1.0, 0.1)
    assert not within(1.0, 1.0, 1.0, 0.1)  # zero width: a single realisation
    assert not within(np.nan, 1.0, 1.0, 0.1) and not within(0.95, np.inf, 1.0, 0.1)


def test_min_detectable_effect_has_its_power():
    assert min_detectable_effect(1.0, np.inf) == pytest.approx(1.959964 + 0.841621, rel=1e-6)
    assert min_detectable_effect(2.0, 10) == pytest.approx(2 * min_detectable_effect(1.0, 10))
    assert min_detectable_effect(1.0, 4) > min_detectable_effect(1.0, 40)  # fewer seeds, larger effect needed
    for df in (10, 30, 1000):
        # power of the two-sided t test when the true effect is the MDE: noncentral t tails
        nc, q = min_detectable_effect(1.0, df), scipy.stats.t.ppf(0.975, df)
        power = scipy.stats.nct.sf(q, df, nc) + scipy.stats.nct.cdf(-q, df, nc)
        assert 0.78 <= power <= 0.81


# --- coverage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("noise", ["normal", "skewed"])
@pytest.mark.parametrize("n", [3, 5, 10, 20])
def test_t_mean_covers_at_the_nominal_rate(n, noise):
    cover = simulate_coverage("t-mean", {"n": n}, noise=noise, trials=100_000, seed=n)
    assert cover >= 0.93
    if noise == "normal":  # exact: within 4 binomial standard errors (0.0007) of 0.95
        assert abs(cover - 0.95) < 0.003


@pytest.mark.parametrize("noise", ["normal", "skewed"])
@pytest.mark.parametrize("method", ["welch-slope", "cluster-slope"])
@pytest.mark.parametrize(("levels", "per_level"), [([32, 64, 128], 3), ([16, 32, 64, 128], 10)], ids=["3x3", "4x10"])
def test_slopes_cover_at_the_nominal_rate(method, levels, per_level, noise):
    cover = simulate_coverage(method, {"levels": levels, "per_level": per_level}, noise=noise, trials=20_000, seed=7)
    assert cover >= 0.93
    if method == "cluster-slope" and noise == "normal":  # exact: 4 standard errors (0.0015)
        assert abs(cover - 0.95) < 0.007


def test_the_simulation_catches_the_former_percentile_bootstrap():
    # the interval mean_ci and fit_power_law used before: 75% coverage at 3 seeds
    assert simulate_coverage("percentile-mean", {"n": 3}, trials=2000, n_boot=1000) < 0.9
    assert simulate_coverage("percentile-mean", {"n": 3}, noise="skewed", trials=2000, n_boot=1000) < 0.9


def test_bca_coverage_is_measured_like_the_others():
    # BCa is a large-sample method: far below nominal at 3 seeds, near it at 50 (se 0.005)
    assert simulate_coverage("bca-mean", {"n": 3}, trials=400) < 0.85
    assert simulate_coverage("bca-mean", {"n": 50}, noise="skewed", trials=2000) >= 0.92


def test_simulate_coverage_rejects_unknown_designs():
    with pytest.raises(ValueError, match="unknown coverage method"):
        simulate_coverage("z-mean", {"n": 3})
    with pytest.raises(ValueError, match="needs sizes"):
        simulate_coverage("welch-slope", {"n": 3})
    with pytest.raises(ValueError, match="distinct positive levels"):
        simulate_coverage("cluster-slope", {"levels": [32, 32], "per_level": 3})
    with pytest.raises(ValueError, match="unknown noise"):
        simulate_coverage("t-mean", {"n": 3}, noise="cauchy")
