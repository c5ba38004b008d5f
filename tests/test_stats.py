"""The scaling fit used by every RVE claim recovers known exponents with honest intervals."""

import numpy as np
import pytest

from wgflow.stats import fit_power_law


@pytest.mark.parametrize("slope", [-1.0, -0.5, -2.0])
def test_recovers_known_exponent_from_noisy_realisations(slope):
    rng = np.random.default_rng(0)
    n = np.repeat([16, 32, 64, 128, 256], 10)
    y = 3.0 * n**slope * np.exp(0.2 * rng.standard_normal(n.size))  # log-normal scatter per realisation
    fit = fit_power_law(n, y, seed=1)
    assert abs(fit.slope - slope) < 0.1
    assert fit.lo <= fit.slope <= fit.hi and fit.hi - fit.lo < 0.3  # coverage: next test
    np.testing.assert_allclose(fit.predict([16])[0], 3.0 * 16**slope, rtol=0.3)


def test_interval_covers_the_truth_at_nominal_rate():
    rng = np.random.default_rng(3)
    n = np.repeat([32, 64, 128], 8)
    hits = 0
    for rep in range(40):
        y = n**-1.0 * np.exp(0.3 * rng.standard_normal(n.size))
        fit = fit_power_law(n, y, n_boot=300, seed=rep)
        hits += fit.lo <= -1.0 <= fit.hi
    assert hits >= 32  # 95% nominal (38 of 40); the percentile bootstrap under-covers a little with 8 per n


def test_fit_or_nan_fits_positive_data_and_is_nan_when_nothing_moved():
    from wgflow.stats import fit_power_law, fit_power_law_or_nan

    n = np.repeat([8, 16, 32, 64], 3)
    y = n**-0.5 * np.exp(np.random.default_rng(0).normal(0, 0.05, n.size))
    a, b = fit_power_law_or_nan(n, y, seed=1), fit_power_law(n, y, seed=1)
    assert (a.slope, a.lo, a.hi) == (b.slope, b.lo, b.hi) and abs(a.slope + 0.5) < 0.1
    for bad in (np.where(n == 8, 0.0, y), np.where(n == 8, np.nan, y), y):
        floor = 0.0 if bad is not y else 1.0  # every y <= 1: all below the floor
        f = fit_power_law_or_nan(n, bad, floor=floor)
        assert np.isnan([f.slope, f.lo, f.hi]).all() and list(f.n) == [8, 16, 32, 64]
