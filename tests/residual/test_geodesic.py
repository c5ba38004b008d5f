"""LSS, OTS and kinetic energy on problems with known answers (Gai & Zhang 2021; Benamou–Brenier)."""

import numpy as np
import torch

from wgflow.residual import (
    ResidualStack,
    kinetic_energy,
    kinetic_ratio,
    line_shape_score,
    mccann_interpolation,
    optimal_transport_score,
    output_spread,
    tracks,
    w2_squared,
)


def test_lss_straight_and_zigzag():
    t = np.linspace(0, 1, 6)[:, None, None]
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 7, 3)), rng.normal(size=(1, 7, 3))
    s = line_shape_score(a + t**2 * (b - a))  # straight, non-uniform speed
    assert np.allclose(s.values, 1.0) and s.std < 1e-12
    zig = np.array([[0, 0], [1, 0], [1, 1], [2, 1]], float)[:, None, :]  # units (1,0),(0,1),(1,0)
    assert abs(line_shape_score(zig).mean - 3 / np.sqrt(5)) < 1e-14


def test_lss_zero_length_steps_are_skipped():
    zig = np.array([[0, 0], [1, 0], [1, 0], [1, 1]], float)[:, None, :]
    assert abs(line_shape_score(zig).mean - 2 / np.sqrt(2)) < 1e-14
    still = np.zeros((4, 1, 2))
    assert line_shape_score(still).mean == 1.0
    back = np.array([[0.0], [1.0], [0.0]])[:, None, :]
    assert np.isinf(line_shape_score(back).mean)


def test_ots_monotone_map_and_crossing_map():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    S = np.array([[2.0, 0.5], [0.5, 1.0]])  # y = ∇(x·Sx/2) + ∇|x|⁴/4: gradient of a convex function
    y = x @ S + x * (x**2).sum(1, keepdims=True)
    assert optimal_transport_score(x, y) == 1.0
    assert optimal_transport_score(x, -x) < 0.2  # a half turn crosses every pair of tracks
    z = x.copy()
    z[[0, 1]] = z[[1, 0]]
    assert optimal_transport_score(x, z) < 1.0 or np.allclose(x[0], x[1])


def test_ots_ties_are_judged_by_output_point():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 2))
    y = 2.0 * x  # monotone
    y[5] = y[7] = (y[5] + y[7]) / 2  # two samples share an output: either assignment of the tie is the same map
    assert optimal_transport_score(x, y) == 1.0
    c = np.ones((12, 2)) * 3.0  # a collapsed network: the constant map is the unique OT map onto a Dirac
    assert optimal_transport_score(x, c) == 1.0 and output_spread(c) == 0.0
    assert abs(output_spread(y) - np.sqrt(((y - y.mean(0)) ** 2).sum(1).mean())) < 1e-14


def test_kinetic_energy_equals_w2_on_mccann_interpolation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 2
    T = mccann_interpolation(x, y, 7)
    assert abs(kinetic_energy(T) - w2_squared(x, y)) < 1e-10
    assert abs(kinetic_ratio(T) - 1) < 1e-10
    bent = T.copy()
    bent[1:-1] += 0.3 * np.sin(np.arange(1, 7))[:, None, None]
    assert kinetic_ratio(bent) > 1.01
    still = np.repeat(x[None], 5, axis=0)  # a switched-off stream: nothing moves, the ratio is undefined
    assert np.isnan(kinetic_ratio(still))
    loop = still.copy()
    loop[2] += 1.0  # out and back: μ_L = μ_0 but K > 0
    assert np.isinf(kinetic_ratio(loop))


def test_tracks_hook_residual_and_plain():
    for residual in (True, False):
        net = ResidualStack(2, 2, 5, 2, variant="WA", hidden=4, residual=residual, embed=False)
        x = torch.randn(9, 2, dtype=torch.float64)
        T = tracks(net, x)
        assert T.shape == (6, 9, 2) and np.allclose(T[0], x.numpy())
        with torch.no_grad():
            assert np.allclose(T[-1], net.features(x).numpy())
