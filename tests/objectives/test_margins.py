"""Margins and max-margin references: hand-computed values, scale invariance, LP duality, SVM vs NNLS."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.objectives.margins import (
    SmoothMargin,
    classification_error,
    f1_margin,
    f1_max_margin,
    f2_margin,
    f2_max_margin,
    feature_kernel,
    margin,
    param_norm_sq,
    sphere_directions,
)


def _mu(theta):
    return wg.ParticleMeasure(torch.tensor(theta, dtype=torch.float64), wg.ReLU(2))


def test_hand_computed_margin():
    # f(x) = (1/2) [2 relu(x1) - 1 relu(x2)]
    mu = _mu([[2.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    # y f = 1, 1, 2.5
    assert margin(mu, x, y) == pytest.approx(1.0)
    assert param_norm_sq(mu) == pytest.approx((5.0 + 2.0) / 2)
    assert f1_margin(mu, x, y) == pytest.approx(1.0 / 3.5)
    assert classification_error(mu, x, y) == 0.0
    y_bad = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
    assert margin(mu, x, y_bad) == pytest.approx(-1.0)
    assert classification_error(mu, x, y_bad) == pytest.approx(1 / 3)


@pytest.mark.parametrize("s", [0.1, 3.0, 17.0])
def test_normalised_margin_is_scale_invariant(s):
    g = torch.Generator().manual_seed(1)
    unit = wg.ReLU(4)
    theta = unit.init(50, generator=g, dtype=torch.float64)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    mu = wg.ParticleMeasure(theta, unit)
    y = torch.sign(mu.output(x))
    m1 = f1_margin(mu, x, y)
    assert m1 > 0
    assert f1_margin(mu.with_theta(s * theta), x, y) == pytest.approx(m1, rel=1e-12)
    # and it is not invariant under the non-homogeneous rescaling of c alone
    t2 = theta.clone()
    t2[:, 0] *= s
    assert f1_margin(mu.with_theta(t2), x, y) != pytest.approx(m1, rel=1e-3)


def test_margin_bounds_by_variation_norm():
    """gamma_F1 <= min_i y_i f / |f|_path with |f|_path = (1/m) sum |c||w| <= (1/2m) sum |theta|^2."""
    g = torch.Generator().manual_seed(2)
    unit = wg.ReLU(3)
    theta = unit.init(40, generator=g, dtype=torch.float64)
    mu = wg.ParticleMeasure(theta, unit)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.sign(mu.output(x))
    path = float((theta[:, 0].abs() * theta[:, 1:].norm(dim=1)).mean())
    assert path <= 0.5 * param_norm_sq(mu) + 1e-15
    assert f1_margin(mu, x, y) <= 0.5 * margin(mu, x, y) / path + 1e-15


def test_non_homogeneous_units_rejected():
    unit = wg.Sigmoid(2)
    mu = wg.ParticleMeasure(unit.init(3, dtype=torch.float64), unit)
    with pytest.raises(ValueError):
        f1_margin(mu, torch.zeros(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))


# --------------------------------------------------------------------------- max-margin references
def _orthogonal_case():
    """x = e1, e2 (y = +1), e3, e4 (y = -1) in R^4: F1 max margin 1 / (2 sqrt 2), by hand.

    f = (1/2) relu(u_P . x) - (1/2) relu(u_N . x), u_P = (e1 + e2)/sqrt 2, u_N = (e3 + e4)/sqrt 2, has
    sum |a| = 1 and y_i f(x_i) = 1/(2 sqrt 2) at every point; the dual weights p = 1/4 certify it:
    max_u |sum_i p_i y_i relu(u . x_i)| <= (1/4) max_u (u . e1 + u . e2) = (1/4) sqrt 2.
    """
    return np.eye(4), np.array([1.0, 1.0, -1.0, -1.0]), 1 / (2 * np.sqrt(2))


def test_f1_lp_hand_computed_dictionary_solution():
    x, y, gamma = _orthogonal_case()
    units = np.vstack([np.eye(4), [[1, 1, 0, 0], [0, 0, 1, 1]]])
    sol = f1_max_margin(x, y, units, rounds=0)
    assert sol.margin == pytest.approx(gamma, abs=1e-9)
    assert np.abs(sol.a).sum() == pytest.approx(1.0, abs=1e-9)
    assert (y * sol.output(x)).min() == pytest.approx(gamma, abs=1e-9)
    assert sol.p.sum() == pytest.approx(1.0, abs=1e-8)  # LP duality: the dual weights form a probability
    # without the two mixed directions the best is one basis unit per sign: margin 1/2 * 1 on half the points
    assert f1_max_margin(x, y, np.eye(4), rounds=0).margin == pytest.approx(0.25, abs=1e-9)


def test_f1_column_generation_finds_the_continuum_optimum():
    x, y, gamma = _orthogonal_case()
    units = sphere_directions(4, 30, kind="random", generator=torch.Generator().manual_seed(0))
    plain = f1_max_margin(x, y, units, rounds=0)
    assert plain.margin < 0.8 * gamma < 1.1 * gamma < plain.oracle  # a random dictionary is far from it
    sol = f1_max_margin(x, y, units, rounds=60)
    assert sol.rounds >= 1
    assert sol.margin <= gamma + 1e-9 <= sol.oracle + 2e-9  # lower and upper ends bracket it
    assert sol.margin == pytest.approx(gamma, rel=1e-5)
    assert sol.oracle == pytest.approx(gamma, rel=1e-5)


def test_f1_lp_agrees_with_its_dual_solved_separately():
    """max-margin LP = min_{p in simplex} max_k |sum_i p_i y_i phi_ik| (an independent LP)."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(3)
    x = np.c_[np.ones(12), rng.uniform(-0.5, 0.5, (12, 2))]
    y = np.sign(x[:, 1] * x[:, 2]) + (x[:, 1] * x[:, 2] == 0)
    units = sphere_directions(3, 200)
    phi = np.maximum(x @ units.T, 0.0) * y[:, None]  # (n, K)
    n, K = phi.shape
    # variables (p, t): min t s.t. +-phi^T p <= t, sum p = 1, p >= 0
    A = np.vstack([np.c_[phi.T, -np.ones(K)], np.c_[-phi.T, -np.ones(K)]])
    res = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=A,
        b_ub=np.zeros(2 * K),
        A_eq=np.r_[np.ones(n), 0.0][None],
        b_eq=[1.0],
        bounds=[(0, None)] * n + [(None, None)],
        method="highs",
    )
    sol = f1_max_margin(x, y, units, rounds=0)
    assert sol.margin > 0
    assert sol.margin == pytest.approx(res.fun, rel=1e-7)
    assert sol.oracle == pytest.approx(sol.margin, rel=1e-6) or sol.oracle > sol.margin  # never below the LP


def test_grid_directions_are_unit_and_cover_the_sphere():
    for d, count, spacing in ((2, 64, 2 * np.pi / 64), (3, 2000, np.sqrt(4 * np.pi / 2000))):
        u = sphere_directions(d, count)
        assert u.shape == (count, d)
        np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
        probe = sphere_directions(d, 5000, kind="random", generator=torch.Generator().manual_seed(1))
        covering = np.arccos(np.clip(probe @ u.T, -1, 1)).min(1).max()
        assert covering < 1.5 * spacing
    with pytest.raises(ValueError):
        sphere_directions(4, 10)


def test_svm_margin_hand_computed():
    """Linear kernel, points z_i = y_i x_i = (2, 0) and (0, 2): the min-norm point of their hull is (1, 1),
    so the no-intercept max margin is |(1, 1)| = sqrt 2, attained by f(x) = (x1 + x2)/sqrt 2."""
    x = np.array([[2.0, 0.0], [0.0, -2.0]])
    y = np.array([1.0, -1.0])
    sol = f2_max_margin(x @ x.T, y)
    assert sol.margin == pytest.approx(np.sqrt(2), rel=1e-6)
    w = sol.alpha @ x  # f(x) = w . x
    np.testing.assert_allclose(w, [1 / np.sqrt(2), 1 / np.sqrt(2)], atol=1e-6)
    # an intercept would help here (SVC's own problem): the mirrored data must remove it
    assert sol.output(np.array([[0.0, 0.0]]) @ x.T)[0] == pytest.approx(0.0, abs=1e-12)


def test_svm_matches_least_distance_programming():
    """No-intercept hard-margin SVM = least-distance problem min |w| s.t. Z w >= 1 (Z rows y_i x_i),
    solved independently by NNLS (Lawson & Hanson 1974, ch. 23): w = -r / r_last for the NNLS residual r."""
    from scipy.optimize import nnls

    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 8))
    y = np.sign(x @ rng.normal(size=8) + 0.3)
    Z = y[:, None] * x
    u, _ = nnls(np.vstack([Z.T, np.ones((1, 30))]), np.r_[np.zeros(8), 1.0])
    r = np.vstack([Z.T, np.ones((1, 30))]) @ u - np.r_[np.zeros(8), 1.0]
    w = -r[:8] / r[8]
    sol = f2_max_margin(x @ x.T, y)
    assert sol.margin == pytest.approx(1 / np.linalg.norm(w), rel=1e-5)


def test_one_unit_f1_and_f2_agree():
    """With a single unit both norms are |a|: the LP and the SVM give max_s min_i s y_i relu(u . x_i)."""
    rng = np.random.default_rng(7)
    x = np.c_[np.ones(10), rng.uniform(0.1, 1.0, (10, 2))]
    u = np.array([[0.2, 0.7, 0.3]])
    y = -np.ones(10)
    phi = np.maximum(x @ (u / np.linalg.norm(u)).T, 0.0)[:, 0]
    f1 = f1_max_margin(x, y, u, rounds=0)
    f2 = f2_max_margin(np.outer(phi, phi), y)
    assert f1.margin == pytest.approx(phi.min(), rel=1e-8)
    assert f2.margin == pytest.approx(phi.min(), rel=1e-5)


def test_output_layer_margin_is_below_the_feature_kernel_svm():
    """For fixed w, any c gives f2_margin <= the SVM margin of feature_kernel; the SVM's own c attains it."""
    g = torch.Generator().manual_seed(4)
    unit = wg.ReLU(3)
    theta = unit.init(40, generator=g, dtype=torch.float64)
    mu = wg.ParticleMeasure(theta, unit)
    x = torch.rand(25, 3, generator=g, dtype=torch.float64) - 0.5
    x[:, 0] = 1.0  # bias coordinate
    y = torch.sign(x[:, 1])
    K = feature_kernel(mu, x)
    sol = f2_max_margin(K, y.numpy())
    assert f2_margin(mu, x, y) <= sol.margin + 1e-12
    # c_j = m * sum_i alpha_i relu(w_j . x_i) realises the SVM function with sqrt(mean c^2) = |f|_H
    t = theta.clone()
    t[:, 0] = 1.0
    c = 40 * (unit.phi(x, t).T @ torch.from_numpy(sol.alpha)) / 40**0.5 / 40**0.5
    t[:, 0] = c
    assert f2_margin(mu.with_theta(t), x, y) == pytest.approx(sol.margin, rel=1e-6)
    np.testing.assert_allclose(feature_kernel(mu, x[:5], x), K[:5], atol=1e-14)


def test_smooth_margin_gradient_is_the_first_variation_gradient():
    """G_j = grad_theta V(theta_j) = m dJ/dtheta_j (autograd), and J = -softmin -> -min margin as f grows."""
    g = torch.Generator().manual_seed(6)
    unit = wg.ReLU(3)
    theta = unit.init(30, generator=g, dtype=torch.float64)
    x = torch.rand(20, 3, generator=g, dtype=torch.float64) - 0.5
    y = torch.sign(torch.rand(20, generator=g, dtype=torch.float64) - 0.5)
    obj = SmoothMargin(x, y)
    mu = wg.ParticleMeasure(theta, unit)
    J, G = obj.value_and_grad(mu)
    t = theta.clone().requires_grad_(True)
    Jt = torch.logsumexp(-y * wg.ParticleMeasure(t, unit).output(x), 0) - np.log(20)
    Jt.backward()
    assert pytest.approx(float(Jt.detach()), rel=1e-12) == J
    np.testing.assert_allclose(G.numpy(), 30 * t.grad.numpy(), rtol=1e-10, atol=1e-14)
    tv = theta.clone().requires_grad_(True)
    obj.V(tv, mu).sum().backward()  # grad of V at the particles themselves = G
    np.testing.assert_allclose(tv.grad.numpy(), G.numpy(), rtol=1e-10, atol=1e-14)
    big = mu.with_theta(40 * theta)  # f scales by 1600: min_i y_i f(x_i) <= -J <= min_i y_i f(x_i) + log n
    assert margin(big, x, y) - 1e-9 <= -obj.risk(big) <= margin(big, x, y) + np.log(20) + 1e-9
    assert obj.value_and_grad(big)[0] == pytest.approx(obj.risk(big), rel=1e-12)
