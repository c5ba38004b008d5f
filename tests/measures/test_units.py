"""Unit families: hand-derived VJPs against autograd (gradcheck), constraints, chunking."""

import pytest
import torch

import wgflow as wg

UNITS = [
    lambda d: wg.ReLU(d),
    lambda d: wg.ReLU(d, bias=True),
    lambda d: wg.Sigmoid(d),
    lambda d: wg.Tanh(d),
    lambda d: wg.measures.RBFSphere(d),
    lambda d: wg.measures.PiecewiseLinear(d),
]


@pytest.mark.parametrize("make", UNITS)
def test_vjp_matches_autograd(make):
    g = torch.Generator().manual_seed(0)
    unit = make(3)
    theta = unit.init(5, generator=g, dtype=torch.float64)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    r = torch.randn(7, generator=g, dtype=torch.float64)
    th = theta.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad((r @ unit.phi(x, th)).sum(), th)
    assert torch.allclose(unit.vjp(x, theta, r), auto, atol=1e-12)


@pytest.mark.parametrize("make", [*UNITS, lambda d: wg.measures.Tangent(wg.ReLU(d))])
def test_kernels_batched_over_members_match_autograd_of_each_member(make):
    """Every unit's kernels on (E, B, n) blocks: member e's features, output and vjp are those of member e alone
    (its 2-D kernels and autograd of its 2-D phi), and the retraction acts member by member."""
    g = torch.Generator().manual_seed(2)
    unit, E = make(3), 4
    theta = torch.stack([unit.init(5, generator=g, dtype=torch.float64) for _ in range(E)])  # (E, n, p)
    if isinstance(unit, wg.measures.Tangent):
        theta = theta + 0.1 * torch.randn(theta.shape, generator=g, dtype=torch.float64)  # away from the anchor
    x = torch.randn(E, 7, 3, generator=g, dtype=torch.float64)
    r = torch.randn(E, 7, generator=g, dtype=torch.float64)
    v = torch.full((5,), 0.2, dtype=torch.float64)
    phi_all = unit.phi(x, theta)  # (E, B, n)
    out, cache = unit.forward(x, theta, v)
    G = unit.vjp(x, theta, r, cache)
    assert phi_all.shape == (E, 7, 5) and out.shape == (E, 7) and G.shape == theta.shape
    for e in range(E):
        th = theta[e].clone().requires_grad_(True)
        phi = unit.phi(x[e], th)  # (B, n)
        (auto,) = torch.autograd.grad((r[e] @ phi).sum(), th)
        assert torch.allclose(phi_all[e], phi.detach(), atol=1e-14)
        assert torch.allclose(out[e], phi.detach() @ v, atol=1e-14)
        assert torch.allclose(G[e], unit.vjp(x[e], theta[e], r[e]), atol=1e-13)  # the 2-D kernel of member e
        if not isinstance(unit, wg.measures.Tangent):  # its anchor columns are frozen: no gradient there
            assert torch.allclose(G[e], auto, atol=1e-12)
        assert torch.allclose(unit.project(theta)[e], unit.project(theta[e]), atol=1e-14)


@pytest.mark.parametrize("make", UNITS[2:5])
def test_phi_gradcheck(make):
    """torch.autograd.gradcheck: autograd of phi against finite differences (float64)."""
    g = torch.Generator().manual_seed(1)
    unit = make(2)
    theta = unit.init(3, generator=g, dtype=torch.float64).requires_grad_(True)
    x = torch.randn(4, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: unit.phi(x, t), (theta,))


def test_objective_gradient_gradcheck():
    """G / n equals dJ/dtheta: compare with gradcheck-verified autograd of the sampled objective."""
    g = torch.Generator().manual_seed(2)
    unit = wg.Sigmoid(3)
    theta = unit.init(4, generator=g, dtype=torch.float64)
    x = torch.randn(11, 3, generator=g, dtype=torch.float64)
    y = torch.randn(11, generator=g, dtype=torch.float64)
    for loss in ("square", "logistic", "exponential"):
        yy = torch.sign(y) if loss != "square" else y
        obj = wg.DatasetRisk(x, yy, loss=loss)
        mu = wg.ParticleMeasure(theta, unit)

        def J(t, alpha=2.0, loss=loss, yy=yy):
            h = alpha * unit.phi(x, t).mean(1)
            from wgflow.objectives import LOSSES

            return LOSSES[loss](h, yy)[0].mean() / alpha**2

        th = theta.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(J, (th,))
        (auto,) = torch.autograd.grad(J(th), th)
        val, G = obj.value_and_grad(mu, alpha=2.0)
        assert val == pytest.approx(J(theta).item(), rel=1e-12)
        assert torch.allclose(G, mu.n * auto, atol=1e-12)


def test_chunked_output_and_gradient_equal_unchunked():
    g = torch.Generator().manual_seed(3)
    unit = wg.ReLU(5)
    mu = wg.ParticleMeasure(unit.init(1000, generator=g, dtype=torch.float64), unit)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randn(64, generator=g, dtype=torch.float64)
    full = wg.DatasetRisk(x, y)
    tiny = wg.DatasetRisk(x, y, memory_budget=64 * 8 * 4 * 7)  # 7 particles per block
    assert torch.allclose(mu.output(x), mu.output(x, memory_budget=64 * 8 * 4 * 7), atol=1e-13)
    (J1, G1), (J2, G2) = full.value_and_grad(mu), tiny.value_and_grad(mu)
    assert pytest.approx(J2, rel=1e-13) == J1
    assert torch.allclose(G1, G2, atol=1e-13)


def test_rbf_positions_on_sphere_after_init():
    unit = wg.measures.RBFSphere(6)
    theta = unit.init(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = theta[:, 1:].norm(dim=1)
    assert torch.allclose(r, torch.full_like(r, 6**0.5), atol=1e-12)
    assert unit.kappa == pytest.approx(5 / 6)


def test_two_homogeneity_of_relu():
    g = torch.Generator().manual_seed(4)
    unit = wg.ReLU(3)
    theta = unit.init(4, generator=g, dtype=torch.float64)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(unit.phi(x, 2.5 * theta), 2.5**2 * unit.phi(x, theta))
