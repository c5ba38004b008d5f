"""A recorded gradient flow measured as a curve in Wasserstein space."""

import numpy as np
import pytest
import torch

import wgflow as wg
import wgflow.transport as wt


def _setup(n=20, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    teacher = wg.tasks.ReLUTeacher.random(d, 3, generator=g)
    unit = wg.ReLU(d)
    mu = wg.ParticleMeasure(unit.init(n, generator=g, dtype=torch.float64), unit)
    return mu, wg.PopulationRisk(teacher)


def _run(mu, obj, eta, T=0.5, **kw):
    steps = int(round(T / eta))
    cfg = wg.FlowConfig(eta=eta, steps=steps, n_snapshots=steps + 1, snapshot_spacing="linear", risk_every=steps, **kw)
    return wg.train(mu, obj, cfg)


def test_energy_dissipation_identity_with_first_order_convergence():
    # dR/dt = -||grad V||^2_{L2(mu_t)}; a GD run with step eta matches it up to O(eta)
    mu, obj = _setup()
    errs = []
    for eta in [0.02, 0.01, 0.005]:
        chk = wt.energy_dissipation(_run(mu, obj, eta), obj)
        assert (chk.dEdt < 0).all() and (np.diff(chk.energy) < 0).all()
        errs.append(chk.rel_error)
    assert errs[-1] < 2e-3, errs
    slope = np.polyfit(np.log([0.02, 0.01, 0.005]), np.log(errs), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15), errs


def test_energy_dissipation_with_weight_decay_and_layer_step_multipliers():
    mu, obj = _setup(seed=1)
    traj = _run(mu, obj, 0.005, weight_decay=0.3, eta_output=0.5, eta_inner=2.0)
    assert wt.energy_dissipation(traj, obj).rel_error < 1e-2
    # forgetting the weight decay breaks the identity: the check has teeth
    traj.meta["flow"]["weight_decay"] = 0.0
    assert wt.energy_dissipation(traj, obj).rel_error > 0.05


def test_metric_speed_equals_the_kinetic_energy(tmp_path):
    mu, obj = _setup(seed=2)
    traj = wg.Trajectory.load(_run(mu, obj, 0.005).save(tmp_path / "run.npz"))  # works on saved runs too
    exact = wt.metric_speed(traj, obj, method="exact")
    tracked = wt.metric_speed(traj, obj, method="tracked")
    assert exact.rel_error < 2e-3
    # one small step of a gradient flow is a Brenier map: the identity coupling is optimal
    assert np.allclose(exact.speed, tracked.speed, rtol=1e-8)
    assert wt.velocity_norm(traj.measure_at(0), obj) == pytest.approx(exact.velocity_norm[0], rel=0.02)


def test_distance_from_start_is_bounded_by_the_length_of_the_path():
    mu, obj = _setup(seed=3)
    traj = _run(mu, obj, 0.01, T=1.0)
    d0 = wt.w2_from_start(traj, method="exact")
    bound = wt.w2_from_start(traj, method="tracked")
    ms = wt.metric_speed(traj, method="exact")
    length = np.concatenate([[0.0], np.cumsum(ms.speed * np.diff(traj.snapshot_times))])
    assert d0[0] == 0 and (d0[1:] > 0).all()
    assert (d0 <= bound + 1e-12).all() and (d0 <= length + 1e-12).all()


def test_w2_between_runs_of_different_widths_at_matched_times():
    cfg = wg.FlowConfig(eta=0.05, steps=20, n_snapshots=5, risk_every=20)
    small, obj = _setup(n=16, seed=4)
    large, _ = _setup(n=64, seed=5)
    ta, tb = wg.train(small, obj, cfg), wg.train(large, obj, cfg)
    times, d = wt.w2_between(ta, tb, method="exact")
    assert np.allclose(times, ta.snapshot_times) and d.shape == times.shape and (d > 0).all()
    times, same = wt.w2_between(ta, (ta.snapshots, ta.snapshot_times), method="exact")
    assert np.allclose(same, 0.0, atol=1e-7)
    shifted = (tb.snapshots, tb.snapshot_times + 0.123)
    with pytest.raises(ValueError, match="share no snapshot time"):
        wt.w2_between(ta, shifted)
    with pytest.raises(ValueError, match="equal width"):
        wt.w2_between(ta, tb, method="tracked")


def test_energy_dissipation_refuses_noisy_or_stochastic_runs():
    mu, obj = _setup(seed=6)
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.01, steps=3, noise=0.1, risk_every=3))
    with pytest.raises(ValueError, match="noiseless"):
        wt.energy_dissipation(traj, obj)
    with pytest.raises(ValueError, match="Trajectory"):
        wt.metric_speed((traj.snapshots, traj.snapshot_times), obj)
