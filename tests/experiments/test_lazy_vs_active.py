"""lazy-vs-active: movement ~ 1/tau (cluster-t slope within -1 ± delta), lazy = linearised, active beats lazy,
each against its null; the registered delta covers the O(1/tau) bias of both presets' lazy windows."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import make_config, run_experiment
from wgflow.experiments.lazy_vs_active.claims import movement_fit, slope_bias

SMALL = {
    "d": 10,
    "n_train": 100,
    "n_test": 300,
    "m": 20,
    "T": 10.0,
    "active_taus": (0.1, 1.0),
    "lazy_taus": (1.0, 10.0, 31.62, 100.0),
    "seeds": 6,
}


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_slope_delta_covers_the_order_one_over_tau_bias_of_the_lazy_window(preset):
    cfg = make_config("lazy-vs-active", preset)
    bound = abs(slope_bias(cfg.lazy_taus, a=min(cfg.lazy_taus) / 2))  # |a| <= tau_min / 2
    assert bound <= cfg.slope_delta < 1.5 * bound


def test_slope_bias_is_the_least_squares_slope_of_the_correction():
    taus = np.array([1.0, 3.0, 10.0, 30.0, 100.0])
    a = 1e-4  # small: the first-order expansion is exact to O(a^2)
    move = np.stack([2.0 / taus * (1 + a / taus), 3.0 / taus * (1 + a / taus)])  # (draws, taus)
    assert movement_fit(taus, move).slope + 1 == pytest.approx(slope_bias(taus, a), rel=1e-3)


@pytest.mark.slow
def test_scaled_down_run_passes_its_claims_where_the_nulls_fail(tmp_path, paper_figures):
    res = run_experiment("lazy-vs-active", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("lazy-vs-active")  # every figure it saved is fit for a paper
    claims = {c.name: c for c in res.claims}
    assert set(claims) == {"movement_slope", "lazy_matches_linearisation", "active_beats_lazy"}
    failed = [(n, c.measured, c.ci) for n, c in claims.items() if not c.passed]
    assert not failed, failed
    assert all(c.null.passed is False for c in claims.values()), [c.null for c in claims.values()]
    slope = claims["movement_slope"]
    assert -1.1 < slope.ci[0] < slope.ci[1] < -0.9 and slope.control == pytest.approx(-1.0, abs=1e-2)  # tangent: -1
    assert slope.null.measured > -0.85  # the active window moves less than 1/tau predicts
    gap = claims["lazy_matches_linearisation"]
    assert gap.null.measured > 10 * gap.measured
    assert claims["active_beats_lazy"].null.measured == pytest.approx(1.0, abs=0.05)  # one model at both scales
    assert all(p for p in res.artifacts.values())


def test_negative_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes(
        "lazy-vs-active",
        {
            "d": 5,
            "n_train": 20,
            "n_test": 30,
            "m": 4,
            "T": 1.0,
            "active_taus": (0.1, 1.0),
            "lazy_taus": (1.0, 3.162, 10.0),
            "seeds": 2,
        },
        tmp_path=tmp_path,
    )
    claims = {c.name: c for c in res.claims}
    assert np.isnan(claims["movement_slope"].measured)  # nothing moved: no fit
    assert claims["active_beats_lazy"].measured == pytest.approx(1.0)
    assert not any(c.null.passed for c in claims.values())
