"""Closed-form Gaussian expectations of the piecewise-linear unit and the exact isotropic-Gaussians risk."""

import math

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.tasks.gaussians import IsotropicGaussians, IsotropicGaussiansRisk, hermite_coefficients, second_moment

UNIT = wg.measures.PiecewiseLinear(6)


def _quadrature(fn, a):
    """E fn(aG) He_k(G) by a fine Riemann sum on [-12, 12] (the integrands are piecewise smooth)."""
    g = torch.linspace(-12, 12, 400_001, dtype=torch.float64)
    w = torch.exp(-g * g / 2) / math.sqrt(2 * math.pi) * (g[1] - g[0])
    He = [torch.ones_like(g), g, g**2 - 1, g**3 - 3 * g, g**4 - 6 * g**2 + 3]
    return [float((fn(a * g) * h * w).sum()) for h in He]


@pytest.mark.parametrize("a", [0.05, 0.3, 0.9, 2.0, 7.0])
def test_hermite_coefficients_match_quadrature(a):
    A, _ = hermite_coefficients(torch.tensor([a], dtype=torch.float64), UNIT, 6)
    np.testing.assert_allclose(A[0, :5].numpy(), _quadrature(UNIT.s, a), atol=1e-7)
    S2, _ = second_moment(torch.tensor([a], dtype=torch.float64), UNIT)
    assert float(S2) == pytest.approx(_quadrature(lambda z: UNIT.s(z) ** 2, a)[0], abs=1e-6)


def test_derivatives_match_finite_differences():
    a = torch.linspace(0.1, 5, 50, dtype=torch.float64)
    eps = 1e-6
    _, D = hermite_coefficients(a, UNIT, 8)
    fd = (hermite_coefficients(a + eps, UNIT, 8)[0] - hermite_coefficients(a - eps, UNIT, 8)[0]) / (2 * eps)
    assert (fd - D).abs().max() < 1e-7
    _, dS = second_moment(a, UNIT)
    fd = (second_moment(a + eps, UNIT)[0] - second_moment(a - eps, UNIT)[0]) / (2 * eps)
    assert (fd - dS).abs().max() < 1e-6


def _problem(n=5, d=6, seed=1):
    task = IsotropicGaussians(d, 0.6)
    unit = wg.measures.PiecewiseLinear(d)
    theta = unit.init(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, w_scale=1.5)
    theta[:, 0] = torch.linspace(-0.5, 1.2, n, dtype=torch.float64)
    return task, wg.ParticleMeasure(theta, unit)


def test_exact_risk_matches_monte_carlo():
    task, mu = _problem()
    obj = IsotropicGaussiansRisk(task, K=30)
    x, y = task.sample(1_000_000, generator=torch.Generator().manual_seed(3))
    loss = 0.5 * (mu.output(x) - y) ** 2
    se = float(loss.std()) / math.sqrt(loss.numel())
    assert abs(obj.risk(mu) - float(loss.mean())) < 4 * se


def test_gradient_is_n_times_the_derivative_of_the_risk():
    task, mu = _problem()
    obj = IsotropicGaussiansRisk(task, K=12)
    J, G = obj.value_and_grad(mu)
    assert pytest.approx(obj.risk(mu), abs=1e-14) == J
    fd = torch.zeros_like(G)
    for i in range(mu.n):
        for j in range(mu.p):
            e = torch.zeros_like(mu.theta)
            e[i, j] = 1e-6
            fd[i, j] = (obj.risk(mu.with_theta(mu.theta + e)) - obj.risk(mu.with_theta(mu.theta - e))) / 2e-6 * mu.n
    assert (fd - G).abs().max() < 1e-7 * (1 + G.abs().max())


def test_sgd_gradient_is_unbiased():
    task, mu = _problem()
    obj = IsotropicGaussiansRisk(task, K=30)
    _, G = obj.value_and_grad(mu)
    _, Gs = obj.value_and_grad(mu, batch_size=1_000_000, generator=torch.Generator().manual_seed(5))
    assert (Gs - G).abs().max() < 0.03 * G.abs().max()


def test_first_variation_agrees_with_the_gradient_column_of_c():
    """V(theta; mu)/c at a new point equals the c-component of the velocity there (V is linear in c)."""
    task, mu = _problem(n=8)
    obj = IsotropicGaussiansRisk(task, K=12)
    new = wg.measures.PiecewiseLinear(6).init(3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    new[:, 0] = 1.0
    both = wg.ParticleMeasure(
        torch.cat([mu.theta, new]), mu.unit, torch.cat([torch.full((8,), 1 / 8), torch.zeros(3)]).to(torch.float64)
    )
    _, G = obj.value_and_grad(both)
    np.testing.assert_allclose(obj.V(new, mu).numpy(), G[8:, 0].numpy(), atol=1e-10)


def test_task_and_objective_validate_their_input():
    with pytest.raises(ValueError, match="delta"):
        IsotropicGaussians(5, 1.2)
    task, mu = _problem()
    with pytest.raises(ValueError, match="alpha"):
        IsotropicGaussiansRisk(task).risk(mu, alpha=2.0)
    with pytest.raises(ValueError, match="PiecewiseLinear"):
        IsotropicGaussiansRisk(IsotropicGaussians(7, 0.5)).risk(mu)
