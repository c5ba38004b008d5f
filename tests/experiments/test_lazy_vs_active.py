"""lazy-vs-active: movement ~ 1/tau (CI over seeds), lazy = linearised, active beats lazy."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import run_experiment

SMALL = {
    "d": 10,
    "n_train": 100,
    "n_test": 300,
    "m": 20,
    "T": 10.0,
    "log10_tau": (-1.0, 0.0, 1.0, 1.5, 2.0),
    "seeds": 5,
}


@pytest.mark.slow
def test_scaled_down_run_passes_its_claims(tmp_path, paper_figures):
    res = run_experiment("lazy-vs-active", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("lazy-vs-active")  # every figure it saved is fit for a paper
    claims = {c.name: c for c in res.claims}
    expected = ("movement_slope_asymptotic", "lazy_matches_linearisation", "active_beats_lazy")
    failed = [(n, claims[n].measured, claims[n].ci) for n in expected if not claims[n].passed]
    assert not failed, failed
    # over tau >= 1 the O(1/tau^2) correction may bend the slope out of a narrow CI (quick preset: it does)
    slope = claims["movement_slope"]
    assert slope.ci[0] < slope.ci[1] < -0.9 and slope.control == pytest.approx(-1.0, abs=1e-2)  # tangent: -1
    assert claims["lazy_matches_linearisation"].control > 10 * claims["lazy_matches_linearisation"].measured
    assert all(p for p in res.artifacts.values())


def test_negative_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes(
        "lazy-vs-active",
        {"d": 5, "n_train": 20, "n_test": 30, "m": 4, "T": 1.0, "log10_tau": (-1.0, 0.0, 0.5, 1.0), "seeds": 2},
        tmp_path=tmp_path,
    )
    claims = {c.name: c for c in res.claims}
    assert np.isnan(claims["movement_slope"].measured)  # nothing moved: no fit
    assert claims["active_beats_lazy"].measured == pytest.approx(1.0)
