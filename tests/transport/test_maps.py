"""Known optimal maps: gradients of convex functions are optimal (Brenier)."""

import numpy as np
import pytest
import torch

import wgflow.transport as wt


def T_convex(x):
    # T = grad phi, phi(x) = |x|^2 / 2 + sum_k log cosh(x_k) + <(1, -2, ...), x>: strictly convex
    return x + np.tanh(x) + np.arange(1, x.shape[1] + 1) * (-1.0) ** np.arange(x.shape[1])


def test_cost_of_a_brenier_map_is_the_w2(rng):
    x = rng.normal(size=(150, 3))
    y = T_convex(x)
    direct = np.sqrt(((x - y) ** 2).sum(1).mean())  # int |x - T(x)|^2 dmu
    assert wt.wasserstein(x, y, method="exact") == pytest.approx(direct, rel=1e-10)
    assert wt.tracked_w2(x, y) == pytest.approx(direct, rel=1e-12)


def test_assignment_recovers_the_map_on_samples(rng):
    x = rng.normal(size=(200, 2))
    perm = rng.permutation(200)
    y = T_convex(x)[perm]  # shuffled images
    sigma = wt.ot_assignment(x, y)
    assert np.array_equal(y[sigma], T_convex(x))
    assert np.array_equal(np.sort(sigma), np.arange(200))  # a permutation
    st = wt.ot_assignment(torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(st, torch.Tensor) and torch.equal(st, torch.from_numpy(sigma))


def test_assignment_recovers_the_gaussian_map(rng):
    S1 = np.array([[1.0, 0.3], [0.3, 0.5]])
    S2 = np.array([[0.4, -0.2], [-0.2, 2.0]])
    A, shift = wt.gaussian_ot_map(np.zeros(2), S1, np.ones(2), S2)
    x = rng.normal(size=(120, 2)) @ np.linalg.cholesky(S1).T
    y = x @ A.T + shift
    sigma = wt.ot_assignment(x, y[::-1].copy())
    assert np.allclose(y[::-1][sigma], y)


def test_barycentric_map_of_equal_clouds_is_the_assignment(rng):
    x = rng.normal(size=(60, 2))
    y = T_convex(x)[rng.permutation(60)]
    assert np.allclose(wt.barycentric_map(x, y), T_convex(x), atol=1e-12)
    Ts = wt.barycentric_map(x, y, method="sinkhorn", blur=0.02, scaling=0.9, tol=1e-10)
    assert np.abs(Ts - T_convex(x)).max() < 1e-2


def test_barycentric_map_preserves_the_mean_and_is_monotone_in_1d(rng):
    x, y = rng.normal(size=(30, 1)), rng.normal(size=(45, 1)) * 2 + 1
    a, b = rng.random(30) + 0.1, rng.random(45) + 0.1
    a, b = a / a.sum(), b / b.sum()
    for method in ["exact", "sinkhorn"]:
        T = wt.barycentric_map(x, y, a, b, method=method, blur=0.5, tol=1e-9, max_iter=5000)
        assert T.shape == x.shape
        assert (a[:, None] * T).sum(0) == pytest.approx((b[:, None] * y).sum(0), rel=1e-6)
        order = np.argsort(x[:, 0])
        assert (np.diff(T[order, 0]) >= -1e-9).all()  # 1-D optimal maps are non-decreasing


def test_assignment_of_a_cost_matrix_is_the_brute_force_optimum():
    # any square cost (here not a distance: random, with negative entries), NumPy or torch
    import itertools

    g = np.random.default_rng(3)
    C = g.normal(size=(6, 6))
    best = min(itertools.permutations(range(6)), key=lambda s: sum(C[i, s[i]] for i in range(6)))
    assert list(wt.assignment(C)) == list(best)
    assert list(wt.assignment(torch.tensor(C))) == list(best)
    with pytest.raises(ValueError, match="square"):
        wt.assignment(np.zeros((3, 4)))
