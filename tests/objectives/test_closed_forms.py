"""Closed forms against Monte Carlo, finite differences and the energy decomposition."""

import math

import pytest
import torch

import wgflow as wg
from wgflow.objectives.closed_forms import arccos_kernel, arccos_kernel_grad


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_arccos_kernel_matches_monte_carlo():
    g = _gen(1)
    d = 4
    w1 = torch.randn(5, d, generator=g, dtype=torch.float64)
    w2 = torch.randn(3, d, generator=g, dtype=torch.float64)
    N = 400_000
    x = torch.randn(N, d, generator=g, dtype=torch.float64)
    a, b = torch.relu(x @ w1.T), torch.relu(x @ w2.T)
    mc = a.T @ b / N  # (5, 3)
    se = torch.sqrt(((a[:, :, None] * b[:, None, :]) ** 2).mean(0) / N)
    exact = arccos_kernel(w1, w2)
    assert torch.all((mc - exact).abs() < 5 * se), (mc - exact).abs().max()


def test_arccos_kernel_special_values():
    w = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]], dtype=torch.float64)
    k = arccos_kernel(w, w)
    # k(w, w) = |w|^2 / 2 ; orthogonal: |w||w'| / (2 pi) ; opposite: 0
    assert k[0, 0].item() == pytest.approx(0.5)
    assert k[1, 1].item() == pytest.approx(2.0)
    assert k[0, 1].item() == pytest.approx(2.0 / (2 * math.pi))
    assert k[0, 2].item() == pytest.approx(0.0, abs=1e-12)


def test_arccos_kernel_grad_matches_autograd():
    g = _gen(2)
    w1 = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w2 = torch.randn(6, 3, generator=g, dtype=torch.float64)
    coef = torch.randn(4, 6, generator=g, dtype=torch.float64)
    (auto,) = torch.autograd.grad((arccos_kernel(w1, w2) * coef).sum(), w1)
    assert torch.allclose(arccos_kernel_grad(w1.detach(), w2, coef), auto, atol=1e-10)


def _problem(n=7, d=3, m0=2, seed=0, dtype=torch.float64):
    g = _gen(seed)
    teacher = wg.tasks.ReLUTeacher.random(d, m0, generator=g, signs="random")
    unit = wg.ReLU(d)
    mu = wg.ParticleMeasure(unit.init(n, generator=g, dtype=dtype, kind="sphere"), unit)
    return teacher, mu


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_population_risk_matches_large_sample(alpha):
    teacher, mu = _problem()
    obj = wg.PopulationRisk(teacher)
    g = _gen(7)
    N = 400_000
    x = torch.randn(N, 3, generator=g, dtype=torch.float64)
    sq = 0.5 * (alpha * mu.output(x) - teacher(x)) ** 2
    se = sq.std() / math.sqrt(N)
    assert abs(obj.risk(mu, alpha) - sq.mean().item()) < 5 * se
    # gradient: sampled estimate on the same x
    sampled = wg.DatasetRisk(x, teacher(x))
    J_s, G_s = sampled.value_and_grad(mu, alpha)
    J, G = obj.value_and_grad(mu, alpha)
    assert pytest.approx(J_s, rel=2e-2) == J
    assert torch.allclose(G, G_s, atol=3e-2 * G.abs().max().item())


def test_population_gradient_matches_finite_differences():
    teacher, mu = _problem(n=5)
    obj = wg.PopulationRisk(teacher)
    _J, G = obj.value_and_grad(mu)
    theta = mu.theta
    eps = 1e-6
    fd = torch.zeros_like(theta)
    for i in range(theta.shape[0]):
        for j in range(theta.shape[1]):
            tp, tm = theta.clone(), theta.clone()
            tp[i, j] += eps
            tm[i, j] -= eps
            fd[i, j] = (obj.risk(mu.with_theta(tp)) - obj.risk(mu.with_theta(tm))) / (2 * eps)
    # G_i = n dJ/dtheta_i (mean-field time)
    assert torch.allclose(G, mu.n * fd, atol=1e-7)


def test_energy_decomposition():
    """R = C_f - int F dmu + 1/2 iint K dmu dmu, and V = -F + int K dmu."""
    teacher, mu = _problem(n=9, d=4, m0=3, seed=3)
    obj = wg.PopulationRisk(teacher)
    a = mu.a
    R = obj.C_f() - a @ obj.F(mu.theta) + 0.5 * a @ obj.K(mu.theta, mu.theta) @ a
    assert obj.risk(mu) == pytest.approx(R.item(), rel=1e-12)
    V = obj.V(mu.theta, mu)
    assert torch.allclose(V, -obj.F(mu.theta) + obj.K(mu.theta, mu.theta) @ a, atol=1e-14)
    # the teacher itself has zero risk
    assert obj.risk(teacher.measure) == pytest.approx(0.0, abs=1e-12)


def test_first_variation_gradient_is_G():
    """G_i = grad_theta V(theta; mu) at theta_i, checked with autograd on V."""
    teacher, mu = _problem(n=6, d=3, m0=2, seed=4)
    obj = wg.PopulationRisk(teacher)
    _, G = obj.value_and_grad(mu)
    theta = mu.theta.clone().requires_grad_(True)
    frozen = mu.with_theta(mu.theta.clone())
    V = obj.V(theta, frozen)
    (auto,) = torch.autograd.grad(V.sum(), theta)
    assert torch.allclose(G, auto, atol=1e-9)


@pytest.mark.parametrize("scale", [1.0, 2.0, -1.0])
def test_kernel_autograd_is_finite_for_parallel_units_and_equals_the_closed_form_gradient(scale):
    """A unit against itself or a parallel (or opposite) unit: cos = ±1 (or its rounding just past it),
    where autograd through arccos and sqrt alone gives nan; the kernel's gradient there is the closed form."""
    from wgflow.objectives.closed_forms import arccos_kernel, arccos_kernel_grad

    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(5, 4, generator=g, dtype=torch.float64)
    w2 = torch.cat([scale * w1, torch.randn(3, 4, generator=g, dtype=torch.float64)])
    coef = torch.randn(5, 8, generator=g, dtype=torch.float64)
    w = w1.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad((coef * arccos_kernel(w, w2)).sum(), w)
    assert torch.isfinite(auto).all()
    assert torch.allclose(auto, arccos_kernel_grad(w1, w2, coef), atol=1e-12)
