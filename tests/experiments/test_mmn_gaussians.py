"""mmn-gaussians: the particles' |w| law follows the radial PDE beyond the sampling floor (GD and SGD),
SGD departs from the flow like sqrt(eta / P), noisy SGD reaches its Gibbs fixed point; each claim
against its null (the particles frozen at t = 0, the t = 0 sample, a fresh initial sample, the next
seed's flow, noiseless GD)."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import ConfigError, make_config, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {
    "n_values": (32, 64, 128, 256),
    "seeds": 6,
    "T": 1.0,
    "hist_times": (0.5, 1.0),
    "cells": 400,
    "floor_pairs": 32,
    "noise_n": 128,
    "noisy_n": 64,
}


@pytest.mark.slow
def test_scaled_down_run_and_its_nulls(tmp_path, paper_figures):
    res = run_experiment("mmn-gaussians", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("mmn-gaussians")  # every figure it saved is fit for a paper
    claims, m = {c.name: c for c in res.claims}, res.metrics
    assert set(claims) == {
        "risk_gap_rate",
        "w2_rate",
        "tracks_pde_beyond_floor",
        "moved_beyond_floor",
        "sgd_tracks_pde",
        "sgd_noise_rate",
        "noisy_fixed_point",
    }
    assert all(c.null is not None and c.method for c in res.claims)
    # the risk gap over t >= gap_t_min shrinks near 1/N; frozen particles keep an O(1) gap (exponent near 0)
    gap = claims["risk_gap_rate"]
    assert -1.4 < gap.measured < -0.6 and gap.null.passed is False and abs(gap.null.measured) < 0.3
    # the t = 0 sample has the sampling exponent -1/2 by construction: the W2 rate's null is near it
    assert -0.75 < claims["w2_rate"].null.measured < -0.3 and m["w2_hi"] < -0.3
    # at the largest N the particles sit near the sampling floor of the PDE (i.i.d. would give ~0.71),
    # while the frozen particles are tens of floors away
    assert m["track_ratio_n256"] < 1.1 and m["track_ratio_control_n256"] > 10
    assert claims["tracks_pde_beyond_floor"].null.passed is False
    assert claims["tracks_pde_beyond_floor"].null.measured > 10
    # the law moved by many floors; a fresh initial sample sits about one floor away
    moved = claims["moved_beyond_floor"]
    assert moved.passed and moved.null.passed is False and 0.5 < moved.null.measured < 2
    # SGD follows the PDE far better than its frozen particles, though above the sampling floor
    sgd = claims["sgd_tracks_pde"]
    assert sgd.null.passed is False and sgd.measured < sgd.null.measured / 5
    # SGD's departure from the exact-gradient flow it started with grows with eta / P near the square root
    # (with an O(eta / P) drift on top at the largest level); against another seed's flow it is the sampling floor
    noise = claims["sgd_noise_rate"]
    assert 0.35 < noise.measured < 0.85 and noise.null.passed is False and abs(noise.null.measured) < 0.3
    assert m["sgd_departure_P512_eta0.005"] < m["sgd_departure_P64_eta0.01"] / 3
    # noisy SGD's radii sit near the Gibbs law of their own potential (an i.i.d. sample scores 1); noiseless GD
    # and the initial particles are many floors from theirs
    fixed = claims["noisy_fixed_point"]
    assert fixed.measured < 2 and fixed.null.passed is False and fixed.null.measured > 5
    assert m["gibbs_ratio_initial"] > 5
    assert all(c.ci[0] < c.ci[1] and c.source for c in res.claims)
    assert all((tmp_path / p.split("/")[-1]).exists() for p in res.artifacts.values())


def test_untrained_control_passes_no_claim(tmp_path):
    small = {**SMALL, "n_values": (16, 32, 64, 128), "floor_pairs": 8, "noise_n": 32, "noisy_n": 32, "noisy_T": 0.5}
    res = assert_no_claim_passes("mmn-gaussians", small, tmp_path=tmp_path)
    claims = {c.name: c for c in res.claims}
    # the frozen particles did not move, and their distance to the PDE is their null's, the t = 0 distance
    assert claims["moved_beyond_floor"].measured == 0.0
    assert claims["tracks_pde_beyond_floor"].measured == pytest.approx(claims["tracks_pde_beyond_floor"].null.measured)
    assert claims["risk_gap_rate"].measured == pytest.approx(claims["risk_gap_rate"].null.measured)
    assert np.isfinite(res.metrics["w2_slope"])
    # nothing moved: SGD equals the flow (no slope to fit) and the Gibbs law of the initial potential is far away
    assert np.isnan(claims["sgd_noise_rate"].measured)
    assert claims["noisy_fixed_point"].measured > 5


def test_config_is_validated():
    cfg = make_config("mmn-gaussians", "quick")
    assert cfg.seeds >= 20 and len(cfg.n_values) >= 4 and cfg.sgd_batch > 0
    assert len(set(cfg.noise_levels)) >= 3 and len(set(cfg.sgd_etas)) >= 2 and cfg.noisy_n > 0
    for bad, key in (
        ({"sgd_batch": -1}, "sgd_batch"),
        ({"floor_pairs": 1}, "floor_pairs"),
        ({"floor_factor": 1.0}, "floor_factor"),
        ({"hist_times": (2.0,)}, "hist_times"),
        ({"gap_t_min": 1.0}, "gap_t_min"),
        ({"gap_delta": 0.0}, "gap_delta"),
        ({"w2_delta": 0.6}, "w2_delta"),
        ({"sgd_etas": (0.01, 0.005)}, "sgd_etas"),
        ({"sgd_batches": (64, 64, 128, 128)}, "sgd_batches"),
        ({"noise_n": 100}, "noise_n"),
        ({"noise_delta": 0.6}, "noise_delta"),
        ({"gibbs_factor": 1.0}, "gibbs_factor"),
        ({"noisy_eta": 10.0}, "noisy_eta"),
    ):
        with pytest.raises(ConfigError, match=key):
            make_config("mmn-gaussians", "quick", bad)
