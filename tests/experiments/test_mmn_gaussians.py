"""mmn-gaussians: the particles' |w| law follows the radial PDE beyond the sampling floor (GD and SGD)."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import ConfigError, make_config, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {
    "n_values": (32, 64, 128, 256),
    "seeds": 5,
    "T": 1.0,
    "hist_times": (0.5, 1.0),
    "cells": 400,
    "floor_pairs": 32,
}


@pytest.mark.slow
def test_scaled_down_run_passes_its_claims(tmp_path, paper_figures):
    res = run_experiment("mmn-gaussians", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("mmn-gaussians")  # every figure it saved is fit for a paper
    claims, m = {c.name: c for c in res.claims}, res.metrics
    assert set(claims) == {
        "risk_gap_rate",
        "w2_rate",
        "tracks_pde_beyond_floor",
        "moved_beyond_floor",
        "sgd_tracks_pde",
    }
    # tracks_pde_beyond_floor (every N, smallest N marginal) and sgd_tracks_pde (SGD's own noise floor)
    # fail at the quick preset with their reasons; they are checked through their numbers below. So is
    # w2_rate at these small N: the O(1/N) bias steepens the fit (-0.69 [-0.8, -0.57] here, -0.53 at the
    # quick preset's N = 32..512), so only its decrease at least at the sampling rate is asserted
    expected = ("risk_gap_rate", "moved_beyond_floor")
    assert all(claims[k].passed for k in expected), [(k, claims[k].measured, claims[k].ci) for k in expected]
    assert m["w2_sup_hi"] < -0.4
    # at the largest N the particles sit within the sampling floor of the PDE (i.i.d. would give ~0.71),
    # while the untrained control is tens of floors away
    assert m["track_ratio_n256"] < 1 < 10 < m["track_ratio_control_n256"]
    assert claims["tracks_pde_beyond_floor"].measured < 1.2 and claims["tracks_pde_beyond_floor"].control > 10
    # SGD follows the PDE far better than the untrained control, though above the sampling floor
    assert claims["sgd_tracks_pde"].measured < claims["sgd_tracks_pde"].control / 5
    assert all(c.ci[0] < c.ci[1] and c.source for c in res.claims)
    assert all((tmp_path / p.split("/")[-1]).exists() for p in res.artifacts.values())


def test_untrained_control_passes_no_claim(tmp_path):
    small = {**SMALL, "n_values": (16, 32, 64, 128), "floor_pairs": 8}
    res = assert_no_claim_passes("mmn-gaussians", small, tmp_path=tmp_path)
    claims = {c.name: c for c in res.claims}
    # the frozen particles did not move, and their distance to the PDE is their t = 0 distance to it
    assert claims["moved_beyond_floor"].measured == 0.0
    assert claims["tracks_pde_beyond_floor"].measured == pytest.approx(claims["tracks_pde_beyond_floor"].control)
    assert np.isfinite(res.metrics["w2_sup_slope"])


def test_config_is_validated():
    cfg = make_config("mmn-gaussians", "quick")
    assert cfg.seeds >= 5 and len(cfg.n_values) >= 4 and cfg.sgd_batch > 0
    for bad, key in (
        ({"sgd_batch": -1}, "sgd_batch"),
        ({"floor_pairs": 1}, "floor_pairs"),
        ({"floor_factor": 1.0}, "floor_factor"),
        ({"hist_times": (2.0,)}, "hist_times"),
    ):
        with pytest.raises(ConfigError, match=key):
            make_config("mmn-gaussians", "quick", bad)
