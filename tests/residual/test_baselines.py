"""Normalised transport and the transport-matched branch scale (Gai & Zhang 2021 scores at equal transport)."""

import numpy as np
import pytest
import torch

import wgflow.control as control
from wgflow.residual import (
    ObjectiveConfig,
    ResidualStack,
    normalised_transport,
    regularised_objective,
    train_residual,
    transport_matched_scale,
)


def test_normalised_transport_of_a_translation():
    # A translation by v is its own OT map: W2² = |v|², so τ = |v|² / Var μ_0 exactly.
    x = np.random.default_rng(0).normal(size=(50, 2))
    v = np.array([0.3, -0.4])
    var0 = ((x - x.mean(0)) ** 2).sum(1).mean()
    assert abs(normalised_transport(np.stack([x, x + 0.5 * v, x + v])) - 0.25 / var0) < 1e-12
    assert np.isnan(normalised_transport(np.zeros((3, 4, 2))))  # μ_0 a single point: 0/0


def _net(residual=True):
    g = torch.Generator().manual_seed(3)
    return ResidualStack(2, 2, 6, 2, variant="WA", hidden=5, residual=residual, embed=False, generator=g)


def test_matched_scale_recovers_a_known_scale():
    x = torch.randn(60, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    net = _net()
    net.branch_scale = 0.3
    with torch.no_grad():
        target = normalised_transport(net.tracks(x).numpy())
    net.branch_scale = 1.0
    s = transport_matched_scale(net, x, target)
    assert abs(s - 0.3) < 1e-4 and net.branch_scale == 1.0  # found, and the model is left as it was
    assert transport_matched_scale(net, x, normalised_transport(net.tracks(x).detach().numpy())) == 1.0
    with pytest.raises(ValueError):
        transport_matched_scale(_net(residual=False), x, target)


def test_train_result_records_the_initial_objective():
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    net = _net()
    with torch.no_grad():
        e0 = float(regularised_objective(net, x, y, ObjectiveConfig("ce"))["total"])
    with control.untrained():
        r = train_residual(net, x, y, optimizer="adam", steps=5, lr=0.01)
    assert r.initial == e0 == r.terms["total"]  # the negative control does not move
    r = train_residual(net, x, y, optimizer="adam", steps=20, lr=0.01)
    assert r.initial == e0 and r.terms["total"] < e0
