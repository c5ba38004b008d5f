"""The 3-spin target: gradient formula, homogeneity, chunking, moments on S^{d-1}(sqrt d)."""

import math

import numpy as np
import pytest
import torch

from wgflow.tasks import three_spin as ts
from wgflow.tasks.three_spin import ThreeSpin, symmetrize

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sphere(f, B, seed):
    return f.sampler()(B, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("d", [1, 3, 7])
def test_value_and_gradient_match_the_unsymmetrised_definition(d):
    f = ThreeSpin.random(d, seed=d)
    x = torch.randn(16, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    ref = torch.einsum("pqr,bp,bq,br->b", f.a, x, x, x) / d  # (1/d) sum a_pqr x_p x_q x_r
    (g_auto,) = torch.autograd.grad(ref.sum(), x)
    a, xd = f.a, x.detach()
    # (1/d) sum_qr (a_pqr + a_qpr + a_qrp) x_q x_r, the formula of the issue
    g_formula = (
        torch.einsum("pqr,bq,br->bp", a, xd, xd)
        + torch.einsum("qpr,bq,br->bp", a, xd, xd)
        + torch.einsum("qrp,bq,br->bp", a, xd, xd)
    ) / d
    torch.testing.assert_close(f(xd), ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(f.grad(xd), g_auto, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_formula, g_auto, rtol=1e-12, atol=1e-12)


def test_symmetrised_tensor_is_symmetric_and_keeps_f():
    f = ThreeSpin.random(5, seed=2)
    S = f.S
    for perm in [(1, 0, 2), (0, 2, 1), (2, 1, 0), (1, 2, 0)]:
        torch.testing.assert_close(S.permute(*perm), S)
    torch.testing.assert_close(symmetrize(S), S)
    x = _sphere(f, 8, 0)
    torch.testing.assert_close(ThreeSpin(S)(x), f(x))


def test_odd_and_homogeneous_of_degree_three():
    f = ThreeSpin.random(6, seed=3)
    x = torch.randn(32, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(f(-x), -f(x))
    torch.testing.assert_close(f(2.0 * x), 8.0 * f(x))
    torch.testing.assert_close((x * f.grad(x)).sum(1), 3.0 * f(x))  # Euler: x . grad f = 3 f


def test_chunked_evaluation_equals_one_block(monkeypatch):
    f = ThreeSpin.random(9, seed=5)
    x = _sphere(f, 1000, 6)
    whole = f(x)
    monkeypatch.setattr(ts, "_CHUNK_BYTES", 9 * 9 * 8 * 37)  # 37 points per chunk, uneven last chunk
    torch.testing.assert_close(f(x), whole, rtol=0, atol=1e-12)
    torch.testing.assert_close(f.grad(x), 3 * torch.stack([f._u(x[i : i + 1])[0] for i in range(1000)]) / 9)


@pytest.mark.parametrize("d", [2, 4, 10])
def test_mean_zero_and_variance_formula_by_monte_carlo(d):
    f = ThreeSpin.random(d, seed=10 + d)
    B = 200_000
    y = f(_sphere(f, B, 7))
    sd = float(y.std())
    assert abs(float(y.mean())) < 4 * sd / math.sqrt(B)
    y2 = y * y
    se = float(y2.std()) / math.sqrt(B)
    assert abs(float(y2.mean()) - f.variance()) < 4 * se, (float(y2.mean()), f.variance(), se)


def test_variance_grows_like_d():
    # 6 |S|^2 ~ d^3 for large d, so Var f / d -> 1 on average over realisations
    ratios = [ThreeSpin.random(30, seed=s).variance() / 30 for s in range(5)]
    assert 0.8 < np.mean(ratios) < 1.2


def test_sampler_and_great_circle_lie_on_the_sphere():
    f = ThreeSpin.random(5, seed=0)
    x = _sphere(f, 100, 1)
    torch.testing.assert_close(x.norm(dim=1), torch.full((100,), math.sqrt(5), dtype=torch.float64))
    s, xc = f.great_circle(m=50, seed=3)
    assert s.shape == (50,) and xc.shape == (50, 5)
    torch.testing.assert_close(xc.norm(dim=1), torch.full((50,), math.sqrt(5), dtype=torch.float64))


def test_seed_reproducible_and_bad_shapes_rejected():
    torch.testing.assert_close(ThreeSpin.random(4, seed=1).a, ThreeSpin.random(4, seed=1).a)
    assert not torch.equal(ThreeSpin.random(4, seed=1).a, ThreeSpin.random(4, seed=2).a)
    with pytest.raises(ValueError, match="d, d, d"):
        ThreeSpin(torch.zeros(3, 3, 4))
    with pytest.raises(ValueError, match="shape"):
        ThreeSpin.random(4, seed=0)(torch.zeros(3, 5))
