"""The tangent model: exact at the anchor, first-order accurate, trained by wgflow.train, lazy limit."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.measures.linearized import Tangent, symmetric_init, tangent_theta
from wgflow.measures.units import Unit
from wgflow.stats import loglog_slope

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # one torch thread on shared CI cores


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    unit = wg.ReLU(4)
    theta0 = symmetric_init(unit.init(6, generator=g, dtype=torch.float64))  # (12, 5)
    x = torch.randn(40, 4, generator=g, dtype=torch.float64)
    v = torch.randn(theta0.shape, generator=g, dtype=torch.float64)
    return unit, theta0, x, v


def test_symmetric_init_centres_the_network(setup):
    unit, theta0, x, _ = setup
    assert torch.all(theta0[6:, 0] == -theta0[:6, 0]) and torch.all(theta0[6:, 1:] == theta0[:6, 1:])
    assert float(wg.ParticleMeasure(theta0, unit).output(x).abs().max()) < 1e-15  # zero up to rounding


@pytest.mark.parametrize("family", ["relu", "tanh"])
def test_equals_network_at_anchor_and_first_order_away(setup, family):
    _, _, x, _ = setup
    unit = wg.ReLU(4) if family == "relu" else wg.Tanh(4)
    g = torch.Generator().manual_seed(5)
    theta0 = unit.init(12, generator=g, dtype=torch.float64)
    v = torch.randn(theta0.shape, generator=g, dtype=torch.float64)
    tan = Tangent(unit)
    assert tan.p == 2 * unit.p
    torch.testing.assert_close(tan.phi(x, tangent_theta(theta0)), unit.phi(x, theta0), rtol=0, atol=0)
    eps = np.array([1e-2, 5e-3, 2.5e-3, 1.25e-3])
    err = []
    for e in eps:
        th = theta0 + e * v
        lin = wg.ParticleMeasure(torch.cat([th, theta0], 1), tan).output(x)
        net = wg.ParticleMeasure(th, unit).output(x)
        err.append(float((lin - net).abs().mean()))
    slope, _ = loglog_slope(eps, err)
    # f - f_lin = O(|theta - theta0|^2): exactly 2 for a smooth unit; ReLU adds kink crossings of higher order
    assert slope == pytest.approx(2.0, abs=0.1) if family == "tanh" else slope >= 1.9


def test_vjp_matches_autograd_and_anchor_gets_no_gradient(setup):
    unit, theta0, x, v = setup
    tan = Tangent(unit)
    th = torch.cat([theta0 + 0.1 * v, theta0], 1)
    r = torch.randn(x.shape[0], dtype=torch.float64)
    g = tan.vjp(x, th, r)
    g_ref = Unit.vjp(tan, x, th, r)  # autograd through the jvp forward
    torch.testing.assert_close(g[:, : unit.p], g_ref[:, : unit.p])
    assert torch.all(g[:, unit.p :] == 0)
    # linear in theta: the phi of the tangent model passes gradcheck and is exactly affine
    f = lambda t: tan.phi(x, torch.cat([t, theta0], 1))
    th1 = (theta0 + 0.1 * v).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (th1,))
    torch.testing.assert_close(f(theta0 + 0.3 * v) - f(theta0), 3 * (f(theta0 + 0.1 * v) - f(theta0)))


def test_train_moves_only_theta_and_lazy_limit(setup):
    """Trained with objective (1/tau^2) R(tau f), network and tangent model agree as tau grows (at least ~1/tau)."""
    unit, theta0, x, _ = setup
    g = torch.Generator().manual_seed(3)
    teacher = wg.tasks.ReLUTeacher.random(4, 2, generator=g)
    obj = wg.DatasetRisk(x, teacher(x))
    gaps = []
    taus = [10.0, 100.0, 1000.0]
    for tau in taus:
        cfg = wg.FlowConfig(eta=0.5, steps=40, alpha=tau, risk_every=40)
        net = wg.train(wg.ParticleMeasure(theta0, unit), obj, cfg)
        lin = wg.train(wg.ParticleMeasure(tangent_theta(theta0), Tangent(unit)), obj, cfg)
        assert torch.equal(lin.final.theta[:, unit.p :], theta0)
        f, fl = net.final.output(x, tau), lin.final.output(x, tau)
        assert float(fl.norm()) > 0.1 * float(teacher(x).norm())  # the linear model did learn
        gaps.append(float((f - fl).norm() / fl.norm()))
    slope, _ = loglog_slope(taus, gaps)
    assert slope <= -0.9  # Chizat-Oyallon-Bach Thm 2.2 bounds the gap by O(1/tau)
    assert gaps[-1] < 1e-3
