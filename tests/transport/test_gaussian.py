"""Bures-Wasserstein closed forms, and sample solvers converging to them."""

import numpy as np
import pytest
import torch

import wgflow.transport as wt


def _spd(rng, d, floor=0.1):
    B = rng.normal(size=(d, d))
    return B @ B.T / d + floor * np.eye(d)


def test_one_dimensional_closed_form(rng):
    # W2(N(m1, s1^2), N(m2, s2^2))^2 = (m1 - m2)^2 + (s1 - s2)^2
    assert wt.gaussian_w2([1.0], [[4.0]], [-2.0], [[0.25]]) == pytest.approx(np.hypot(3.0, 1.5), rel=1e-12)


def test_commuting_covariances(rng):
    # diagonal covariances: W2^2 = |m1 - m2|^2 + |sqrt(s1) - sqrt(s2)|^2
    s1, s2 = rng.random(5) + 0.1, rng.random(5) + 0.1
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = np.sqrt(((m1 - m2) ** 2).sum() + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum())
    assert wt.gaussian_w2(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(ref, rel=1e-12)


def test_metric_facts_and_torch_input(rng):
    S1, S2 = _spd(rng, 4), _spd(rng, 4)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    # W2 is the square root of a difference of traces, so its round-off floor at W2 = 0 is sqrt(d·eps·|S|) ~ 1e-7
    # (1.1e-7 measured with numpy 2.4 / scipy 1.17), not eps.
    assert wt.gaussian_w2(m1, S1, m1, S1) < 1e-6
    assert wt.gaussian_w2(m1, S1, m2, S2) == pytest.approx(wt.gaussian_w2(m2, S2, m1, S1), rel=1e-10)
    assert wt.gaussian_w2(torch.tensor(m1), torch.tensor(S1), m2, S2) == pytest.approx(
        wt.gaussian_w2(m1, S1, m2, S2), rel=1e-12
    )
    # singular (PSD, rank-deficient) covariances are fine: Dirac masses at the means
    assert wt.gaussian_w2(m1, np.zeros((4, 4)), m2, np.zeros((4, 4))) == pytest.approx(np.linalg.norm(m1 - m2))


def test_ot_map_pushes_forward_and_attains_the_cost(rng):
    d = 3
    S1, S2 = _spd(rng, d), _spd(rng, d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    A, shift = wt.gaussian_ot_map(m1, S1, m2, S2)
    assert np.allclose(A, A.T) and np.linalg.eigvalsh(A).min() > 0  # gradient of a convex quadratic
    assert np.allclose(A @ S1 @ A, S2, atol=1e-10) and np.allclose(A @ m1 + shift, m2)
    I = np.eye(d)
    cost = ((m1 - m2) ** 2).sum() + np.trace((I - A) @ S1 @ (I - A).T)  # E|x - T(x)|^2, x ~ N(m1, S1)
    assert np.sqrt(cost) == pytest.approx(wt.gaussian_w2(m1, S1, m2, S2), rel=1e-10)


def test_empirical_w2_approaches_bures_as_samples_grow():
    rng = np.random.default_rng(7)
    d = 2
    S1, S2 = _spd(rng, d, 0.3), _spd(rng, d, 0.3)
    m1, m2 = np.array([0.0, 1.0]), np.array([1.5, -0.5])
    L1, L2 = np.linalg.cholesky(S1), np.linalg.cholesky(S2)
    ref = wt.gaussian_w2(m1, S1, m2, S2)
    sizes, errors = [16, 128, 1024], []
    for n in sizes:
        errs = []
        for seed in range(8):  # W of two independent samples fluctuates like n^{-1/2}: average over draws
            r = np.random.default_rng(seed)
            x = m1 + r.normal(size=(n, d)) @ L1.T
            y = m2 + r.normal(size=(n, d)) @ L2.T
            errs.append(abs(wt.wasserstein(x, y, method="exact") - ref))
        errors.append(np.mean(errs))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[-1] < 0.03 * ref
    # in d = 2 the empirical rate is about n^{-1/2} (up to logs): fitted slope clearly negative
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert slope < -0.25, slope
