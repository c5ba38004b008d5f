"""Scaled-down run of cb-implicit-bias (cb-global-convergence and lazy-vs-active: tests/experiments)."""

import pytest

from wgflow.experiments import run_experiment

IB_SMALL = {"d_values": (5, 15), "n_fixed": 128, "n_values": (32, 128), "d_for_n": 5, "m": 200,
            "m_values": (256, 1024, 4096), "n_margin": 32, "steps": 1500}


@pytest.mark.slow
def test_implicit_bias_scaled_down(tmp_path):
    """Measured at this size (seeds 0-2) and at the quick preset: all three claims hold once output-layer
    training (convex) gets its large, documented step (``output_step``) and separates the training set."""
    res = run_experiment("cb-implicit-bias", "quick", IB_SMALL, seed=0, out_dir=tmp_path)
    claims = {c.name: c for c in res.claims}
    assert set(claims) == {"dimension_robustness", "margin_stabilises", "error_decreases_with_n"}
    assert claims["dimension_robustness"].passed, claims["dimension_robustness"]
    assert claims["error_decreases_with_n"].passed, claims["error_decreases_with_n"]
    assert claims["margin_stabilises"].passed, claims["margin_stabilises"]
    for d in IB_SMALL["d_values"]:
        assert res.metrics[f"test_error_both_d{d}"] < res.metrics[f"test_error_output_d{d}"]
    assert res.metrics["margin_m4096"] > 0  # the training set is separated: the margin is defined
    assert all(p for p in res.artifacts.values())
