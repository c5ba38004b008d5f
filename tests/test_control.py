"""The negative control: training primitives take no step under wgflow.control.untrained()."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.control import training_disabled, untrained
from wgflow.harness import Claim, claim_ci_above, claim_ci_below, claim_ci_contains, claim_le
from wgflow.residual.objective import ObjectiveConfig, train_residual
from wgflow.residual.stacks import ResidualStack
from wgflow.stats import mean_ci


def _problem(n=30, d=3):
    teacher = wg.tasks.ReLUTeacher.random(d, 2, generator=torch.Generator().manual_seed(0))
    unit = wg.ReLU(d)
    mu = wg.ParticleMeasure(unit.init(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64), unit)
    return mu, wg.PopulationRisk(teacher)


def test_switch_is_scoped_and_nests():
    assert not training_disabled()
    with untrained():
        assert training_disabled()
        with untrained(False):  # an inner no-op never re-enables training
            assert training_disabled()
    with untrained(False):
        assert not training_disabled()
    assert not training_disabled()


def test_untrained_flow_keeps_particles_time_axis_and_records():
    mu, obj = _problem()
    cfg = wg.FlowConfig(eta=0.1, steps=200, risk_every=20, n_snapshots=6, noise=1e-2)
    trained = wg.train(mu, obj, cfg, seed=3)
    with untrained():
        frozen = wg.train(mu, obj, cfg, seed=3)
    # same recording schedule and mean-field times as the trained flow
    assert np.array_equal(frozen.snapshot_steps, trained.snapshot_steps)
    assert np.allclose(frozen.snapshot_times, trained.snapshot_times)
    assert np.array_equal(frozen.risk_steps, trained.risk_steps)
    # no step was taken: every snapshot is the initial measure, the risk never moves
    assert np.array_equal(frozen.snapshots, np.broadcast_to(mu.theta.numpy(), frozen.snapshots.shape))
    assert np.all(frozen.risk == frozen.risk[0])
    assert trained.risk[-1] < 0.5 * trained.risk[0]  # and the same call does train outside the block


def test_untrained_residual_training_leaves_parameters():
    torch.manual_seed(0)
    net = ResidualStack(2, 3, 4, 1).double()
    x, y = torch.randn(32, 2, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    before = [p.detach().clone() for p in net.parameters()]
    seen = []
    with untrained():
        res = train_residual(
            net,
            x,
            y,
            ObjectiveConfig("square"),
            optimizer="adam",
            steps=5,
            lr=0.1,
            callback=lambda s, m: seen.append(s),
        )
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert seen == [0, 1, 2, 3, 4, 5] and res.history == []


def test_ci_claims_fail_on_degenerate_or_excluding_intervals():
    assert claim_ci_contains("s", "slope -1", -0.9, (-1.2, -0.7), -1.0).passed
    assert not claim_ci_contains("s", "slope -1", -0.5, (-0.7, -0.3), -1.0).passed
    assert not claim_ci_contains("s", "one seed", -1.0, (-1.0, -1.0), -1.0).passed  # zero width
    assert not claim_ci_contains("s", "nan", float("nan"), (float("nan"), 1.0), 0.0).passed
    assert claim_ci_below("s", "negative", -0.5, (-0.8, -0.2), 0.0).passed
    assert not claim_ci_below("s", "negative", -0.1, (-0.4, 0.2), 0.0).passed
    assert claim_ci_above("s", "positive", 0.5, (0.2, 0.8), 0.0).passed
    c = claim_le("r", "risk small", np.float64(0.1), 0.2, source="Thm 2", control=np.float32(0.5), ci=(0.05, 0.15))
    d = c.to_dict()
    assert d["source"] == "Thm 2" and d["control"] == pytest.approx(0.5) and d["ci"] == [0.05, 0.15]
    with pytest.raises(TypeError, match="unknown claim field"):
        claim_le("r", "x", 0.1, 0.2, sauce="typo")
    assert Claim("a", "b", "c", 1.0, None, True).source is None


def test_mean_ci_covers_the_mean_at_its_nominal_rate():
    """t interval of a normal mean (n_boot: a bootstrap-era keyword still accepted): ~95% coverage (binomial 3-sigma band over 400 trials)."""
    rng = np.random.default_rng(0)
    hits = 0
    for k in range(400):
        r = mean_ci(rng.normal(1.0, 2.0, 20), n_boot=400, seed=k)
        hits += r.lo <= 1.0 <= r.hi
    assert 0.88 * 400 <= hits <= 0.98 * 400
    one = mean_ci([3.0])
    assert one.lo == one.hi == 3.0
