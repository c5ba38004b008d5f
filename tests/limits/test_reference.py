"""Large-n reference flows: nested initial particles and the propagation-of-chaos distances."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.limits import chaos_distances, nested_init


def test_distances_vanish_for_the_reference_itself_and_are_ordered():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(3, 64, 4))
    d = chaos_distances(ref[:, :16], ref)
    np.testing.assert_allclose(d["coupled"], 0.0, atol=1e-7)
    np.testing.assert_allclose(d["tracked"], 0.0, atol=1e-12)
    noisy = ref[:, :16] + 0.1 * rng.normal(size=(3, 16, 4))
    d = chaos_distances(noisy, ref)
    assert np.all(d["coupled"] <= d["tracked"] + 1e-12)
    assert np.all(d["uncoupled"] > 0)


def test_permuting_the_small_system_changes_tracked_but_not_coupled():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(1, 32, 3))
    small = ref[:, :8] + 0.01 * rng.normal(size=(1, 8, 3))
    perm = small[:, rng.permutation(8)]
    a, b = chaos_distances(small, ref), chaos_distances(perm, ref)
    assert a["coupled"][0] == pytest.approx(b["coupled"][0], rel=1e-9)
    assert b["tracked"][0] > a["tracked"][0]


@pytest.mark.slow
def test_coupled_distance_shrinks_with_width_on_an_exact_flow():
    """One reference of 1024 particles; n = 8 vs 128 nested systems: the distance falls by ~4 (n^-1/2)."""
    d = 5
    teacher = wg.tasks.ReLUTeacher.random(d, 2, generator=torch.Generator().manual_seed(0))
    obj, unit = wg.PopulationRisk(teacher), wg.ReLU(d)
    theta = nested_init(unit, 1024, generator=torch.Generator().manual_seed(1))
    cfg = wg.FlowConfig(eta=0.1, steps=20, snapshot_steps=(10, 20))
    ref = wg.train(wg.ParticleMeasure(theta, unit), obj, cfg).snapshots
    ratios = []
    for seed in range(8):
        perm = torch.randperm(1024, generator=torch.Generator().manual_seed(seed))
        th, rf = theta[perm], ref[:, perm.numpy()]  # another nesting of the same reference
        out = [
            chaos_distances(wg.train(wg.ParticleMeasure(th[:n], unit), obj, cfg).snapshots, rf, uncoupled=False)[
                "coupled"
            ][-1]
            for n in (8, 128)
        ]
        ratios.append(out[0] / out[1])
    assert 2.0 < np.exp(np.mean(np.log(ratios))) < 8.0  # exponent in [-3/4, -1/4]


def test_shape_checks():
    with pytest.raises(ValueError):
        chaos_distances(np.zeros((2, 8, 3)), np.zeros((3, 16, 3)))
    with pytest.raises(ValueError):
        chaos_distances(np.zeros((2, 32, 3)), np.zeros((2, 16, 3)))
