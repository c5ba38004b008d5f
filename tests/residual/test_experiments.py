"""Scaled-down runs of resnet-deep-limit and resnet-geodesic asserting their claims."""

import pytest

from wgflow.experiments import run_experiment


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow
@pytest.mark.parametrize("warm_start", [False, True])
def test_resnet_deep_limit_quick_claims(tmp_path, warm_start):
    # Independent initialisations (the quick preset): each minimiser is the best of 4 random starts
    # drawn as random paths on [0, 1]; warm_start adds the resampled coarser minimiser as a 5th start.
    r = run_experiment("resnet-deep-limit", "quick", {"ablation": False, "warm_start": warm_start}, seed=0,
                       out_dir=tmp_path)
    claims = {c.name: c for c in r.claims}
    for name in ("cauchy_objective", "paths_converge", "ode_limit"):
        assert claims[name].passed, claims[name]
    assert abs(r.metrics["E_L16"] - r.metrics["E_L4"]) < 0.01  # all depths in the same (0.25) basin, not 0.35
    assert (tmp_path / "paths.png").exists() and (tmp_path / "gaps.png").exists()


def _geodesic_claims(r):
    claims = {c.name: c for c in r.claims}
    for name in ("lss_resnet_lower", "ots_resnet_higher", "accuracy_reported"):
        assert claims[name].passed, claims[name]
    # Claim 3 is judged at the a-priori moderate γ (peak ResNet test accuracy over the whole grid). Measured:
    # it fails at this size on digits and blobs — K/W2² falls from γ = 0 but rises again at the accuracy
    # peak (digits: 1.335 > 1.101 > 1.048 then 2.480 at 5e-3). Recorded as an expected failure, not loosened.
    c = claims["kinetic_ratio_decreases"]
    if not c.passed:
        pytest.xfail(f"claim 3 fails as measured: {c.statement}: {c.measured}")


@pytest.mark.slow
def test_resnet_geodesic_quick_claims(tmp_path):
    r = run_experiment("resnet-geodesic", "quick", {}, seed=0, out_dir=tmp_path)  # the quick preset itself
    assert (tmp_path / "scores_vs_gamma.png").exists()
    _geodesic_claims(r)


@pytest.mark.slow
def test_resnet_geodesic_blobs_tracks(tmp_path):
    # Overlapping Gaussian blobs in the width-2 stream: separating them is a monotone (OT) map, so the
    # fair 2-D test of the Gai–Zhang claims; tracks are drawn.
    r = run_experiment("resnet-geodesic", "quick", {"task": "blobs", "seeds": 1}, seed=0, out_dir=tmp_path)
    assert (tmp_path / "tracks.png").exists()
    _geodesic_claims(r)


@pytest.mark.slow
def test_resnet_geodesic_moons_tracks(tmp_path):
    # On the width-2 moons stream only the LSS claim holds at this size: the ResNet shears the two
    # moons apart, which is not a monotone (OT) rearrangement, so its OTS is ~0 like the plain net's.
    r = run_experiment("resnet-geodesic", "quick", {"task": "moons", "m": 128, "gammas": (0.0, 1e-3), "seeds": 1,
                                                    "steps": 100, "snapshots": (0, 100)}, seed=0, out_dir=tmp_path)
    assert {c.name: c for c in r.claims}["lss_resnet_lower"].passed
    assert (tmp_path / "tracks.png").exists()
