"""Mean-field Langevin pieces: Gibbs density of a quadratic V, k-NN entropy, free-energy descent."""

import math

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.limits import free_energy, gibbs_density, knn_entropy


class Quadratic(wg.objectives.Objective):
    """R(mu) = \\int 1/2 theta^T A theta dmu, so V(theta) = 1/2 theta^T A theta (independent of mu)."""

    def __init__(self, A):
        self.A = torch.as_tensor(A, dtype=torch.float64)

    def V(self, theta, mu, alpha=1.0):
        return 0.5 * ((theta @ self.A) * theta).sum(1)

    def risk(self, mu, alpha=1.0):
        return float(self.V(mu.theta, mu).mean())

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        return self.risk(mu), mu.theta @ self.A


def _mu(n=400, p=2, seed=0):
    unit = wg.Sigmoid(p - 2) if p > 2 else wg.ReLU(p - 1)
    theta = torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return wg.ParticleMeasure(theta, unit)


@pytest.mark.parametrize("lam,wd", [(0.1, 0.0), (0.05, 0.5)])
def test_gibbs_density_of_quadratic_v_is_the_right_gaussian(lam, wd):
    """exp(-(theta^T A theta/2 + wd|theta|^2/2)/lambda) = N(0, lambda (A + wd I)^{-1})."""
    A = np.array([[2.0, 0.6], [0.6, 1.0]])
    axes = [np.linspace(-3, 3, 241)] * 2
    gd = gibbs_density(Quadratic(A), _mu(), lam, axes, weight_decay=wd)
    mean, cov = gd.mean_cov()
    np.testing.assert_allclose(mean, 0.0, atol=1e-10)
    np.testing.assert_allclose(cov, lam * np.linalg.inv(A + wd * np.eye(2)), rtol=2e-3, atol=1e-6)
    assert gd.density.sum() * gd.cell == pytest.approx(1.0, abs=1e-12)


def test_gibbs_density_on_a_subset_of_columns_and_its_samples():
    """A 1-D slice with the other coordinate fixed: variance lambda / A_11, and samples reproduce it."""
    A = np.array([[2.0, 0.0], [0.0, 1.0]])
    gd = gibbs_density(Quadratic(A), _mu(), 0.2, [np.linspace(-3, 3, 601)], columns=[1], fixed=[5.0, 0.0])
    assert gd.mean_cov()[1][0, 0] == pytest.approx(0.2, rel=1e-3)
    x = gd.sample(200_000, np.random.default_rng(0))
    assert x.var() == pytest.approx(0.2, rel=0.02)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_knn_entropy_of_gaussians(p):
    """Kozachenko-Leonenko estimate vs H = 1/2 log((2 pi e)^p det Sigma)."""
    rng = np.random.default_rng(p)
    L = np.tril(rng.normal(size=(p, p))) + 2 * np.eye(p)
    x = rng.normal(size=(20_000, p)) @ L.T
    H, se = knn_entropy(x)
    exact = 0.5 * p * math.log(2 * math.pi * math.e) + math.log(abs(np.linalg.det(L)))
    assert abs(H - exact) < max(4 * se, 0.02)
    assert se < 0.02


def test_free_energy_decreases_under_langevin_on_a_quadratic():
    """OU process: F = E V + wd/2 m2 - lambda H decreases to its minimum at the Gaussian N(0, lambda A^-1)."""
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    obj, lam = Quadratic(A), 0.1
    mu = wg.ParticleMeasure(3.0 + 0.1 * _mu(n=2000).theta, wg.ReLU(1))
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.02, steps=300, noise=lam, n_snapshots=8), seed=0)
    F = np.array([free_energy(traj.measure_at(k), obj, lam).value for k in range(len(traj.snapshot_steps))])
    assert np.all(np.diff(F) < 0.03)
    F_min = lam - lam * (math.log(2 * math.pi * math.e * lam))  # E V = lambda, H = log(2 pi e lambda)
    assert F[-1] == pytest.approx(F_min, abs=0.03)
    assert F[0] > F_min + 3.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="duplicate"):
        knn_entropy(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="temperature"):
        gibbs_density(Quadratic(np.eye(2)), _mu(), 0.0, [np.linspace(-1, 1, 5)] * 2)
