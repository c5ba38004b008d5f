"""Batched exact objectives (population risks, the smoothed margin): E members in one computation equal
the E single objectives (float64)."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.flows import Ensemble, EnsembleRisk
from wgflow.objectives.closed_forms import arccos_kernel, arccos_kernel_grad
from wgflow.objectives.margins import SmoothMargin
from wgflow.tasks.gaussians import IsotropicGaussians, IsotropicGaussiansRisk

E = 3


def _measures(unit, n, scale=1.0):
    return [
        wg.ParticleMeasure(
            unit.init(n, generator=torch.Generator().manual_seed(20 + e), dtype=torch.float64, w_scale=scale), unit
        )
        for e in range(E)
    ]


def _teacher_problem(d=4, m0=3, n=11, memory_budget=None):
    teachers = [wg.tasks.ReLUTeacher.random(d, m0, generator=torch.Generator().manual_seed(e)) for e in range(E)]
    return [wg.PopulationRisk(t, memory_budget=memory_budget) for t in teachers], _measures(wg.ReLU(d), n)


def _gaussians_problem(d=6, n=9):
    obj = IsotropicGaussiansRisk(IsotropicGaussians(d, 0.6), K=6)
    return [obj] * E, _measures(wg.measures.PiecewiseLinear(d), n, scale=0.9)


def _assert_members_agree(objs, mus, alpha):
    ens = EnsembleRisk(objs)
    J, G = ens.value_and_grad(Ensemble.stack(mus), alpha)
    risk = ens.risk(Ensemble.stack(mus), alpha)
    assert J.shape == (E,) and G.shape == (E, *mus[0].theta.shape) and risk.shape == (E,)
    for e, (obj, mu) in enumerate(zip(objs, mus)):
        j, g = obj.value_and_grad(mu, alpha)
        assert abs(float(J[e]) - j) <= 1e-10 * max(1.0, abs(j))
        assert torch.allclose(G[e], g, rtol=1e-10, atol=1e-12)
        assert abs(risk[e] - obj.risk(mu, alpha)) <= 1e-10 * max(1.0, abs(risk[e]))
    return J, G


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_population_members_agree_with_single_objectives(alpha):
    objs, mus = _teacher_problem()
    _assert_members_agree(objs, mus, alpha)


def test_population_blocks_do_not_change_the_result():
    objs, mus = _teacher_problem(n=40)
    J, G = _assert_members_agree(objs, mus, 1.0)
    small, _ = _teacher_problem(n=40, memory_budget=4 * E * 40 * 8 * 3)  # one member at a time, blocks of 9 rows
    J2, G2 = EnsembleRisk(small).value_and_grad(Ensemble.stack(mus), 1.0)
    assert torch.allclose(J, J2, rtol=1e-12) and torch.allclose(G, G2, rtol=1e-12, atol=1e-14)


def test_batched_arccos_kernel_is_the_stack_of_its_matrices():
    g = torch.Generator().manual_seed(1)
    w1, w2 = (torch.randn(E, m, 5, generator=g, dtype=torch.float64) for m in (4, 6))
    coef = torch.randn(E, 4, 6, generator=g, dtype=torch.float64)
    K, dK = arccos_kernel(w1, w2), arccos_kernel_grad(w1, w2, coef)
    for e in range(E):
        assert torch.allclose(K[e], arccos_kernel(w1[e], w2[e]), rtol=1e-14)
        assert torch.allclose(dK[e], arccos_kernel_grad(w1[e], w2[e], coef[e]), rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="arccos_kernel"):
        arccos_kernel(w1[0, 0], w2[0])


def test_gaussians_members_agree_with_single_objectives():
    objs, mus = _gaussians_problem()
    _assert_members_agree(objs, mus, 1.0)


def test_population_ensemble_flows_reproduce_single_flows():
    objs, mus = _teacher_problem()
    cfg = wg.FlowConfig(eta=0.5, steps=30, noise=1e-4, risk_every=5, n_snapshots=4)
    singles = [wg.train(mu, obj, cfg, seed=7 + e) for e, (mu, obj) in enumerate(zip(mus, objs))]
    members = wg.train(Ensemble.stack(mus), objs, cfg, seed=[7 + e for e in range(E)])
    for a, b in zip(singles, members):
        assert np.allclose(a.snapshots, b.snapshots, rtol=1e-10, atol=1e-12)
        assert np.allclose(a.risk, b.risk, rtol=1e-10)
    assert singles[0].risk[-1] < 0.5 * singles[0].risk[0]  # the flows did train


def test_gaussians_sgd_members_keep_their_own_streams():
    objs, mus = _gaussians_problem()
    cfg = wg.FlowConfig(eta=0.05, steps=12, batch_size=16, eta_output=0.0, risk_every=4)
    singles = [wg.train(mu, obj, cfg, seed=3 + e) for e, (mu, obj) in enumerate(zip(mus, objs))]
    members = wg.train(Ensemble.stack(mus), objs, cfg, seed=[3 + e for e in range(E)])
    for a, b in zip(singles, members):
        assert np.allclose(a.snapshots, b.snapshots, rtol=1e-10, atol=1e-12)
        assert np.allclose(a.risk, b.risk, rtol=1e-10)
    assert not np.allclose(members[0].snapshots[-1], members[1].snapshots[-1])


def test_teachers_of_different_widths_run_member_by_member():
    objs = [wg.PopulationRisk(wg.tasks.ReLUTeacher.random(4, 2 + e, generator=torch.Generator())) for e in range(E)]
    _assert_members_agree(objs, _measures(wg.ReLU(4), 7), 1.0)


def test_smooth_margin_members_agree_with_single_objectives():
    g = torch.Generator().manual_seed(2)
    objs = []
    for _ in range(E):
        x = torch.randn(30, 4, generator=g, dtype=torch.float64)
        objs.append(SmoothMargin(x, torch.sign(x[:, 1] + 0.3)))
    _assert_members_agree(objs, _measures(wg.ReLU(4), 8), 1.0)
    with pytest.raises(ValueError, match="full-batch"):
        EnsembleRisk(objs).value_and_grad(Ensemble.stack(_measures(wg.ReLU(4), 8)), 1.0, batch_size=4)


def test_gaussians_members_in_groups_give_the_same_result(monkeypatch):
    from wgflow.measures import blocks

    objs, mus = _gaussians_problem()
    J, G = EnsembleRisk(objs).value_and_grad(Ensemble.stack(mus), 1.0)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 8 * 9 * 9 * 2)  # two members' (9, 9) matrices per group
    J2, G2 = EnsembleRisk(objs).value_and_grad(Ensemble.stack(mus), 1.0)
    assert torch.allclose(J, J2, rtol=1e-12) and torch.allclose(G, G2, rtol=1e-12, atol=1e-14)
