"""F1-normalised margins: hand-computed values, 2-homogeneous scale invariance, errors."""

import pytest
import torch

import wgflow as wg
from wgflow.margins import classification_error, f1_margin, margin, param_norm_sq


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
