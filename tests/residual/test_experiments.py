"""Scaled-down runs of resnet-deep-limit and resnet-geodesic asserting their claims."""

import pytest

from wgflow.experiments import run_experiment


@pytest.mark.slow
def test_resnet_deep_limit_quick_claims(tmp_path):
    r = run_experiment("resnet-deep-limit", "quick", {"ablation": False}, seed=0, out_dir=tmp_path)
    claims = {c.name: c for c in r.claims}
    for name in ("cauchy_objective", "paths_converge", "ode_limit"):
        assert claims[name].passed, claims[name]
    assert (tmp_path / "paths.png").exists() and (tmp_path / "gaps.png").exists()


@pytest.mark.slow
def test_resnet_geodesic_quick_claims(tmp_path):
    r = run_experiment("resnet-geodesic", "quick", {"gammas": (0.0, 5e-4, 1e-3), "seeds": 1}, seed=0,
                       out_dir=tmp_path)
    for c in r.claims:
        assert c.passed, c
    assert (tmp_path / "scores_vs_gamma.png").exists()


@pytest.mark.slow
def test_resnet_geodesic_moons_tracks(tmp_path):
    # On the width-2 moons stream only the LSS claim holds at this size: the ResNet shears the two
    # moons apart, which is not a monotone (OT) rearrangement, so its OTS is ~0 like the plain net's.
    r = run_experiment("resnet-geodesic", "quick", {"task": "moons", "m": 128, "gammas": (0.0, 1e-3), "seeds": 1,
                                                    "steps": 100, "snapshots": (0, 100)}, seed=0, out_dir=tmp_path)
    assert {c.name: c for c in r.claims}["lss_resnet_lower"].passed
    assert (tmp_path / "tracks.png").exists()
