"""Particle flows: descent, law of large numbers, lazy scaling, constraints, reproducibility."""

import math

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.flows import Ensemble
from wgflow.stats import loglog_slope


def _teacher_problem(n, seed=0, d=4, m0=3, dtype=torch.float64, init_seed=None):
    teacher = wg.tasks.ReLUTeacher.random(d, m0, generator=torch.Generator().manual_seed(100))
    unit = wg.ReLU(d)
    g = torch.Generator().manual_seed(seed if init_seed is None else init_seed)
    mu = wg.ParticleMeasure(unit.init(n, generator=g, dtype=dtype, kind="sphere"), unit)
    return teacher, mu, wg.PopulationRisk(teacher)


def test_small_step_gd_decreases_risk_monotonically():
    _, mu, obj = _teacher_problem(50)
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.05, steps=400, risk_every=1))
    assert np.all(np.diff(traj.risk) <= 1e-15)
    assert traj.risk[-1] < 0.2 * traj.risk[0]


def test_noisy_dynamics_reduce_to_gd_at_zero_temperature():
    teacher = wg.tasks.ReLUTeacher.random(3, 2, generator=torch.Generator().manual_seed(0))
    obj = wg.OnlineRisk(wg.tasks.gaussian_sampler(3), teacher)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(20, generator=torch.Generator().manual_seed(1), dtype=torch.float64), unit)
    cfg = wg.FlowConfig(eta=0.1, steps=50, batch_size=32)
    a = wg.train(mu, obj, cfg, seed=5)
    b = wg.train(mu, obj, cfg, seed=5, noise=0.0, noise_schedule="log")
    assert np.array_equal(a.final.numpy(), b.final.numpy())
    c = wg.train(mu, obj, cfg, seed=5, noise=1e-3)
    assert not np.array_equal(a.final.numpy(), c.final.numpy())


def test_langevin_noise_has_the_stated_variance():
    """With a zero objective gradient, one step moves each coordinate by sqrt(2 lambda eta) xi."""

    class Flat(wg.objectives.Objective):
        def risk(self, mu, alpha=1.0):
            return 0.0

        def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
            return 0.0, torch.zeros_like(mu.theta)

    unit = wg.Sigmoid(2)
    mu = wg.ParticleMeasure(torch.zeros(20000, unit.p, dtype=torch.float64), unit)
    traj = wg.train(mu, Flat(), wg.FlowConfig(eta=0.01, steps=1, noise=0.5))
    var = traj.final.numpy().var()
    assert var == pytest.approx(2 * 0.5 * 0.01, rel=0.03)


@pytest.mark.slow
def test_law_of_large_numbers_in_mean_field_time():
    """Risk curves at n and 4n agree, and their gap shrinks as n grows (fluctuations ~ n^-1/2)."""

    def curve(n, seed):
        _, mu, obj = _teacher_problem(n, init_seed=seed)
        return wg.train(mu, obj, wg.FlowConfig(eta=0.2, steps=100, risk_every=5)).risk

    # RMS over time and over 10 independent initial draws of the gap between widths n and 4n
    gaps = {}
    for n in (8, 32, 128):
        gaps[n] = np.sqrt(np.mean([np.mean((curve(n, s) - curve(4 * n, 1000 + s)) ** 2) for s in range(10)]))
    assert gaps[32] < gaps[8] and gaps[128] < gaps[32], gaps
    # fluctuations ~ n^{-1/2}: the gap falls by ~4 from n = 8 to 128; demand at least 2
    assert gaps[8] / gaps[128] > 2.0, gaps


@pytest.mark.slow
def test_lazy_scaling_relative_movement_is_one_over_alpha():
    """Chizat–Oyallon–Bach: with J = R(alpha f)/alpha^2 the parameters move O(1/alpha)."""
    teacher = wg.tasks.ReLUTeacher.random(5, 2, generator=torch.Generator().manual_seed(0))
    unit = wg.ReLU(5)
    g = torch.Generator().manual_seed(1)
    half = unit.init(50, generator=g, dtype=torch.float64)
    flipped = half.clone()
    flipped[:, 0] = -flipped[:, 0]
    theta0 = torch.cat([half, flipped])  # symmetric init: f(theta0) = 0 for every alpha
    mu = wg.ParticleMeasure(theta0, unit)
    obj = wg.PopulationRisk(teacher)
    alphas = np.array([10.0, 30.0, 100.0, 300.0])
    moves = []
    for alpha in alphas:
        traj = wg.train(mu, obj, wg.FlowConfig(eta=0.5, steps=200, alpha=float(alpha), risk_every=50))
        moves.append((traj.final.theta - theta0).norm().item() / theta0.norm().item())
    slope, _ = loglog_slope(alphas, moves)
    assert -1.1 < slope < -0.9, (slope, moves)


def test_rbf_units_stay_on_the_sphere():
    d = 5
    unit = wg.measures.RBFSphere(d)
    g = torch.Generator().manual_seed(0)
    target = wg.tasks.ReLUTeacher.random(d, 2, generator=g)
    obj = wg.OnlineRisk(wg.tasks.sphere_sampler(d), target)
    mu = wg.ParticleMeasure(unit.init(30, generator=g, dtype=torch.float64), unit)
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.5, steps=100, batch_size=64, noise=1e-3, n_snapshots=10))
    radii = np.linalg.norm(traj.snapshots[:, :, 1:], axis=2)
    assert np.abs(radii - math.sqrt(d)).max() < 1e-10


def test_same_seed_same_numbers_and_save_load(tmp_path):
    teacher = wg.tasks.ReLUTeacher.random(3, 2, generator=torch.Generator().manual_seed(0))
    obj = wg.OnlineRisk(wg.tasks.gaussian_sampler(3), teacher)
    unit = wg.Tanh(3)
    mu = wg.ParticleMeasure(unit.init(10, generator=torch.Generator().manual_seed(1), dtype=torch.float64), unit)
    probe = torch.randn(7, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    cfg = wg.FlowConfig(eta=0.1, steps=60, batch_size=16, noise=1e-4)
    a = wg.train(mu, obj, cfg, seed=3, probe=probe)
    b = wg.train(mu, obj, cfg, seed=3, probe=probe)
    assert np.array_equal(a.snapshots, b.snapshots) and np.array_equal(a.risk, b.risk)
    assert a.probe_f.shape == (len(a.snapshot_steps), 7)
    path = a.save(tmp_path / "traj.npz")
    c = wg.Trajectory.load(path)
    assert np.array_equal(c.snapshots, a.snapshots) and np.array_equal(c.final.numpy(), a.final.numpy())
    assert isinstance(c.final.unit, wg.Tanh) and c.meta["flow"]["batch_size"] == 16
    # the linearised (tangent) model round-trips too
    tan = wg.measures.Tangent(wg.ReLU(3))
    mu_t = wg.ParticleMeasure(wg.measures.tangent_theta(wg.ReLU(3).init(4, dtype=torch.float64)), tan)
    t = wg.train(mu_t, obj, wg.FlowConfig(eta=0.1, steps=3, batch_size=8))
    back = wg.Trajectory.load(t.save(tmp_path / "tangent.npz"))
    assert isinstance(back.final.unit, wg.measures.Tangent) and isinstance(back.final.unit.base, wg.ReLU)
    assert np.array_equal(back.final.numpy(), t.final.numpy())


class _MemoryCheckpointer:
    def __init__(self, every, fail_at=None):
        self.every, self.fail_at, self.state, self.saves = every, fail_at, None, 0

    def save(self, state):
        self.state = {k: np.array(v, copy=True) for k, v in state.items()}
        self.saves += 1
        if self.fail_at is not None and int(state["step"]) >= self.fail_at:
            raise KeyboardInterrupt

    def load(self):
        return self.state


def test_resumed_run_is_bit_identical():
    teacher = wg.tasks.ReLUTeacher.random(3, 2, generator=torch.Generator().manual_seed(0))
    obj = wg.OnlineRisk(wg.tasks.gaussian_sampler(3), teacher)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64), unit)
    cfg = wg.FlowConfig(eta=0.1, steps=100, batch_size=8, noise=1e-3, risk_every=7)
    ref = wg.train(mu, obj, cfg, seed=9)
    ck = _MemoryCheckpointer(every=20, fail_at=40)
    with pytest.raises(KeyboardInterrupt):
        wg.train(mu, obj, cfg, seed=9, checkpointer=ck)
    ck.fail_at = None
    res = wg.train(mu, obj, cfg, seed=9, checkpointer=ck)
    assert np.array_equal(res.final.numpy(), ref.final.numpy())
    assert np.array_equal(res.risk, ref.risk) and np.array_equal(res.snapshot_steps, ref.snapshot_steps)
    assert np.array_equal(res.snapshots, ref.snapshots)


def test_divergence_is_reported_with_a_suggestion():
    _, mu, obj = _teacher_problem(10)
    with pytest.raises(wg.DivergenceError, match="smaller step size"):
        wg.train(mu, obj, wg.FlowConfig(eta=1e6, steps=50))


def test_frozen_inner_layer_and_schedules():
    _, mu, obj = _teacher_problem(10)
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.5, steps=20, eta_inner=0.0, schedule="inv_sqrt"))
    assert np.array_equal(traj.final.numpy()[:, 1:], mu.numpy()[:, 1:])
    assert not np.array_equal(traj.final.numpy()[:, 0], mu.numpy()[:, 0])
    assert traj.snapshot_times[-1] == pytest.approx(sum(0.5 / math.sqrt(k + 1) for k in range(20)))
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.1, steps=30, snapshot_steps=(5, 17)))
    assert list(traj.snapshot_steps) == [0, 5, 17, 30]
    cfg = wg.FlowConfig(batch_size=4, batch_schedule=((10, 25),))
    assert cfg.batch_at(9) == 4 and cfg.batch_at(10) == 25


def test_ntk_scaling_alpha_is_sqrt_n():
    _, mu, obj = _teacher_problem(16)
    traj = wg.train(mu, obj, wg.FlowConfig(eta=0.1, steps=2, alpha="ntk"))
    assert traj.meta["alpha"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: wg.ReLU(3).init(-1), "positive integer"),
        (lambda: wg.ReLU(0), "positive integer"),
        (lambda: wg.ParticleMeasure(torch.zeros(4, 2), wg.ReLU(3)), r"shape \(n, 4\)"),
        (lambda: wg.ParticleMeasure(torch.full((2, 4), float("nan")), wg.ReLU(3)), "NaN"),
        (lambda: wg.DatasetRisk(torch.zeros(3, 2), torch.tensor([0.0, float("nan"), 1.0])), "NaN"),
        (lambda: wg.DatasetRisk(torch.zeros(3, 2), torch.zeros(4)), "shape"),
        (lambda: wg.DatasetRisk(torch.zeros(3, 2), torch.zeros(3), loss="hinge"), "unknown loss"),
        (lambda: wg.measures.make_unit("softplus", 3), "unknown unit family"),
        (lambda: wg.FlowConfig(eta=-1), "eta"),
        (lambda: wg.FlowConfig(alpha="big"), "alpha"),
        (lambda: wg.ReLU(3).phi(torch.zeros(5, 2), torch.zeros(1, 4)), r"shape \(B, 3\)"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def _mu(n=8, d=2):
    unit = wg.ReLU(d)
    return wg.ParticleMeasure(unit.init(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64), unit)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: wg.train(_mu(), lambda t: 0.0, wg.FlowConfig(steps=2)), TypeError, "objective must be an Objective"),
        (lambda: wg.train(_mu(), None), TypeError, "got NoneType"),
        (lambda: wg.train(torch.zeros(4, 3), None), TypeError, "mu must be a ParticleMeasure"),
        (lambda: wg.train(_mu(), wg.PopulationRisk(_teacher()), {"steps": 2}), TypeError, "cfg must be a FlowConfig"),
    ],
)
def test_train_names_what_it_expected(call, error, match):
    # issue 30: a function as the objective used to fail deep inside with "'function' object has no attribute 'risk'"
    with pytest.raises(error, match=match) as e:
        call()
    assert "\n" not in str(e.value)


def _teacher():
    g = torch.Generator().manual_seed(0)
    return wg.tasks.ReLUTeacher.random(2, 2, generator=g, dtype=torch.float64)


def test_a_batch_beyond_the_memory_available_is_refused_before_allocating(monkeypatch):
    mu = _mu(n=1000)  # 24 kB of particles; a batch of 1000 points through them needs 24 MB
    monkeypatch.setattr("wgflow.domains.available_memory", lambda: 10**6)  # a 1 MB machine
    x = torch.randn(1000, 2, dtype=torch.float64)
    obj = wg.DatasetRisk(x, x[:, 0])
    with pytest.raises(wg.ConfigError, match=r"a batch of 1000 points through 1000 units needs .* lower the batch"):
        wg.train(mu, obj, wg.FlowConfig(steps=1, batch_size=1000))


def test_output_rms_step_rule_scales_each_flows_step_by_its_output_rms():
    """Chizat & Bach's output-layer rule: a step of eta max(1, rms c), the factor of each member's own c taken
    before the step; against fixed steps of eta x the closed-form factor (rms c = 3 exactly: |c_i| = 3; and
    rms c < 1: factor 1)."""
    _, mu, obj = _teacher_problem(8)
    theta = mu.theta.clone()
    big = theta.clone()
    big[:, 0] = 3.0 * torch.sign(theta[:, 0])  # rms c = 3
    small = theta.clone()
    small[:, 0] *= 0.5 / small[:, 0].square().mean().sqrt()  # rms c = 0.5
    ens = Ensemble.stack([wg.ParticleMeasure(big, mu.unit), wg.ParticleMeasure(small, mu.unit)])
    cfg = wg.FlowConfig(eta=0.01, steps=1, eta_inner=0.0, step_rule="output_rms")
    rule = wg.train(ens, [obj, obj], cfg)
    fixed_big = wg.train(wg.ParticleMeasure(big, mu.unit), obj, cfg, step_rule="fixed", eta=0.03)
    fixed_small = wg.train(wg.ParticleMeasure(small, mu.unit), obj, cfg, step_rule="fixed")
    assert torch.allclose(rule[0].final.theta, fixed_big.final.theta, rtol=0, atol=1e-14)
    assert torch.allclose(rule[1].final.theta, fixed_small.final.theta, rtol=0, atol=1e-14)
    assert not torch.allclose(
        rule[0].final.theta, wg.train(wg.ParticleMeasure(big, mu.unit), obj, cfg, step_rule="fixed").final.theta
    )
    assert rule[0].snapshot_times[-1] == pytest.approx(0.01)  # mean-field time: the schedule's, without the factor
    with pytest.raises(wg.ConfigError, match="step_rule"):
        wg.FlowConfig(step_rule="adam")
