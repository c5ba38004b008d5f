"""Tracked-particle bound and the Chizat-Bach sphere projection of 2-homogeneous units."""

import numpy as np
import pytest
import torch

import wgflow as wg
import wgflow.transport as wt


def test_tracked_bound_is_an_upper_bound(rng):
    for _ in range(5):
        th = rng.normal(size=(40, 3))
        th2 = th + rng.normal(size=(40, 3)) * rng.random()
        w = rng.random(40)
        assert wt.tracked_w2(th, th2, w) >= wt.wasserstein(th, th2, w, w, method="exact") - 1e-12


def test_tracked_bound_is_loose_when_particles_swap():
    th = np.array([[0.0], [1.0]])
    assert wt.tracked_w2(th, th[::-1]) == pytest.approx(1.0)
    assert wt.wasserstein(th, th[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_tracked_bound_is_tight_for_a_linear_brenier_map(rng):
    th = rng.normal(size=(50, 4))
    A = np.diag([0.5, 1.0, 2.0, 3.0])
    assert wt.tracked_w2(th, th @ A + 1.0) == pytest.approx(wt.wasserstein(th, th @ A + 1.0, method="exact"), rel=1e-10)


def test_tracked_bound_in_torch_is_differentiable(rng):
    th = torch.tensor(rng.normal(size=(10, 3)), requires_grad=True)
    v = wt.tracked_w2(th, torch.zeros(10, 3, dtype=torch.float64))
    v.backward()
    assert torch.allclose(th.grad, th.detach() / (10 * v.detach()))


def _relu_network(rng, n, d):
    theta = rng.normal(size=(n, d + 1))
    a = rng.random(n)
    return theta, a / a.sum()


def test_projection_represents_the_network(rng):
    # f(x) = sum_i a_i c_i relu(w_i.x) = total * sum_k mass_k phi(x; u_k)  (2-homogeneity)
    d = 4
    theta, a = _relu_network(rng, 30, d)
    unit = wg.ReLU(d)
    x = torch.randn(64, d, dtype=torch.float64)
    f = unit.phi(x, torch.from_numpy(theta)) @ torch.from_numpy(a)
    h = wt.sphere_projection(theta, a)
    assert np.allclose(np.linalg.norm(h.points, axis=1), 1.0) and h.mass.sum() == pytest.approx(1.0)
    assert h.total == pytest.approx(float((a * (theta**2).sum(1)).sum()))
    g = h.total * unit.phi(x, torch.from_numpy(h.points)) @ torch.from_numpy(h.mass)
    assert torch.allclose(f, g, rtol=1e-12, atol=1e-12)
    plus, minus = wt.sphere_projection(theta, a, split=True)
    g2 = plus.total * unit.phi(x, torch.from_numpy(plus.points)) @ torch.from_numpy(plus.mass) + minus.total * unit.phi(
        x, torch.from_numpy(minus.points)
    ) @ torch.from_numpy(minus.mass)
    assert torch.allclose(f, g2, rtol=1e-12, atol=1e-12)
    assert (plus.points[:, 0] > 0).all() and (minus.points[:, 0] < 0).all()


def test_projection_quotients_out_the_homogeneity(rng):
    # theta_i -> r_i theta_i with weights a_i / r_i^2 is the same network (and the same h(mu))
    # although the particles moved far in R^p
    theta, a = _relu_network(rng, 25, 3)
    r = rng.uniform(0.2, 5.0, size=25)
    theta2, a2 = theta * r[:, None], a / r**2
    a2 = a2 / a2.sum()
    assert wt.wasserstein(theta, theta2, a, a2) > 0.3
    assert wt.projected_w2(theta, theta2, a, a2) == pytest.approx(0.0, abs=1e-6)
    assert wt.projected_w2(theta, theta2, a, a2, split=True) == pytest.approx((0.0, 0.0), abs=1e-6)


def test_projected_w2_compares_different_widths(rng):
    theta, _ = _relu_network(rng, 20, 3)
    other, _ = _relu_network(rng, 50, 3)
    d = wt.projected_w2(theta, other)
    assert 0 < d <= 2.0  # chordal distances on the unit sphere are at most 2
    plus, minus = wt.projected_w2(theta, other, split=True)
    assert 0 < plus <= 2.0 and 0 < minus <= 2.0


def test_zero_particles_carry_no_mass_and_empty_parts_are_reported():
    theta = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    h = wt.sphere_projection(theta)
    assert list(h.index) == [0, 2]
    with pytest.raises(ValueError, match="negative"):
        wt.sphere_projection(theta, split=True)
