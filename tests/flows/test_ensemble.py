"""Ensembles of independent flows: each member is the single flow with its own random stream."""

import dataclasses
import math
import shutil

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.control import untrained
from wgflow.flows import Ensemble, EnsembleRisk, runtime
from wgflow.measures import blocks, measure
from wgflow.objectives import Objective
from wgflow.tasks.three_spin import ThreeSpin

E = 3


def _three_spin_problem(n=12, d=4, dtype=torch.float64):
    targets = [ThreeSpin.random(d, seed=10 + e) for e in range(E)]
    objs = [wg.OnlineRisk(f.sampler(), f, n_test=256, test_seed=e) for e, f in enumerate(targets)]
    unit = wg.Sigmoid(d)
    mus = [
        wg.ParticleMeasure(unit.init(n, generator=torch.Generator().manual_seed(e), dtype=dtype), unit)
        for e in range(E)
    ]
    return mus, objs


CFG = wg.FlowConfig(
    eta=0.5,
    steps=40,
    batch_size=6,
    batch_schedule=((30, 25),),
    noise=1e-3,
    noise_until=20,
    risk_every=5,
    n_snapshots=5,
    weight_decay=1e-3,
)


def test_members_reproduce_the_single_flows():
    mus, objs = _three_spin_problem()
    singles = [wg.train(mu, obj, CFG, seed=100 + e) for e, (mu, obj) in enumerate(zip(mus, objs))]
    probe = torch.randn(5, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    members = wg.train(Ensemble.stack(mus), objs, CFG, seed=[100 + e for e in range(E)], probe=probe)
    assert len(members) == E
    for a, b in zip(singles, members):
        assert isinstance(b, wg.Trajectory) and b.snapshots.shape == a.snapshots.shape
        assert np.array_equal(a.snapshot_steps, b.snapshot_steps) and np.allclose(a.risk_times, b.risk_times)
        assert np.allclose(a.snapshots, b.snapshots, rtol=1e-9, atol=1e-11)
        assert np.allclose(a.risk, b.risk, rtol=1e-9) and np.allclose(
            a.train_loss, b.train_loss, rtol=1e-9, equal_nan=True
        )
        assert b.probe_f.shape == (len(b.snapshot_steps), 5)
    assert singles[0].risk[-1] < 0.9 * singles[0].risk[0]  # the flows did train


@pytest.mark.parametrize("block", [96 * 5, 96 * 6 * 2, 96])  # 5 samples of one member; 2 members of 6; two passes
def test_cache_sized_blocks_give_the_same_flow(monkeypatch, block):
    mus, objs = _three_spin_problem()
    ref = wg.train(Ensemble.stack(mus), objs, CFG, seed=3)
    monkeypatch.setattr(blocks, "STEP_BLOCK_BYTES", block)  # n = 12 float64 particles: 96 bytes a sample
    monkeypatch.setattr(blocks, "MIN_STEP_SAMPLES", 2)  # one sample a block: two passes over particle blocks
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 25 * 8 * 5)  # particle blocks of 5 at the quench's B = 25
    for a, b in zip(ref, wg.train(Ensemble.stack(mus), objs, CFG, seed=3)):
        assert np.allclose(a.snapshots, b.snapshots, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("block", [2**20, 96 * 7])  # one batched product; member by member (over the bound)
@pytest.mark.parametrize("shared", [True, False])
def test_ensemble_output_is_the_mean_of_its_features(monkeypatch, block, shared):
    monkeypatch.setattr(blocks, "STEP_BLOCK_BYTES", block)  # n = 12 float64 particles: 96 bytes a sample
    mus, _ = _three_spin_problem()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 4, generator=g, dtype=torch.float64) if shared else torch.randn(E, 50, 4, generator=g).double()
    out = Ensemble.stack(mus).output(x, alpha=2.0)
    assert out.shape == (E, 50)
    for e, mu in enumerate(mus):
        xe = x if shared else x[e]
        c, w, b = mu.theta[:, 0], mu.theta[:, 1:-1], mu.theta[:, -1]  # sigmoid units c sigmoid(w . x + b)
        oracle = 2.0 * torch.sigmoid(xe @ w.T + b) @ c / mu.n  # alpha (1/n) sum_i phi(x; theta_i), written out
        assert torch.allclose(out[e], oracle, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("unit", [wg.ReLU(3, bias=True), wg.measures.RBFSphere(3), wg.Tanh(3)])
def test_dataset_members_reproduce_single_flows_for_every_unit_path(unit):
    g = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(40, generator=g, dtype=torch.float64))
        for _ in range(E)
    ]
    objs = [wg.DatasetRisk(x, y) for x, y in data]
    mus = [
        wg.ParticleMeasure(unit.init(7, generator=torch.Generator().manual_seed(e), dtype=torch.float64), unit)
        for e in range(E)
    ]
    cfg = wg.FlowConfig(eta=0.2, steps=15, batch_size=8, noise=1e-4, risk_every=5)
    singles = [wg.train(mu, obj, cfg, seed=e) for e, (mu, obj) in enumerate(zip(mus, objs))]
    members = wg.train(Ensemble.stack(mus), EnsembleRisk(objs), cfg, seed=0)  # int seed: member e gets seed + e
    for a, b in zip(singles, members):
        assert np.allclose(a.snapshots, b.snapshots, rtol=1e-9, atol=1e-12)
        assert np.allclose(a.risk, b.risk, rtol=1e-9)


class _Anchor(Objective):
    """J = 1/2 int |theta - anchor|^2 dmu: an objective without a batched form (``ensemble`` is None)."""

    loss = "anchor"

    def __init__(self, anchor):
        self.anchor = anchor

    def risk(self, mu, alpha=1.0):
        return float(0.5 * mu.a @ ((mu.theta - self.anchor) ** 2).sum(1))

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        return self.risk(mu), mu.theta - self.anchor


def test_other_objectives_run_member_by_member():
    unit = wg.ReLU(3)
    objs = [_Anchor(torch.full((4,), float(e))) for e in range(E)]
    mus = [
        wg.ParticleMeasure(unit.init(9, generator=torch.Generator().manual_seed(e), dtype=torch.float64), unit)
        for e in range(E)
    ]
    cfg = wg.FlowConfig(eta=0.3, steps=20, noise=1e-3, risk_every=5)
    singles = [wg.train(mu, obj, cfg, seed=e) for e, (mu, obj) in enumerate(zip(mus, objs))]
    for a, b in zip(singles, wg.train(Ensemble.stack(mus), objs, cfg, seed=0)):
        assert np.array_equal(a.snapshots, b.snapshots) and np.array_equal(a.risk, b.risk)
    assert np.allclose(b.snapshots[-1], E - 1, atol=0.1)  # it is the flow of that objective


class _MemoryCheckpointer:
    def __init__(self, every, fail_at=None):
        self.every, self.fail_at, self.state = every, fail_at, None

    def save(self, state):
        self.state = {k: np.array(v, copy=True) for k, v in state.items()}
        if self.fail_at is not None and int(state["step"]) >= self.fail_at:
            raise KeyboardInterrupt

    def load(self):
        return self.state


def test_ensemble_resume_is_bit_identical():
    mus, objs = _three_spin_problem()
    ens = Ensemble.stack(mus)
    ref = wg.train(ens, objs, CFG, seed=5)
    ck = _MemoryCheckpointer(every=10, fail_at=20)
    with pytest.raises(KeyboardInterrupt):
        wg.train(ens, objs, CFG, seed=5, checkpointer=ck)
    assert ck.state["theta"].shape == (E, 12, 6) and ck.state["generator"].shape[0] == E
    ck.fail_at = None
    res = wg.train(ens, objs, CFG, seed=5, checkpointer=ck)
    for a, b in zip(ref, res):
        assert np.array_equal(a.snapshots, b.snapshots) and np.array_equal(a.risk, b.risk)
        assert np.array_equal(a.final.numpy(), b.final.numpy())


def test_untrained_ensemble_records_its_initial_particles():
    mus, objs = _three_spin_problem()
    ens = Ensemble.stack(mus)
    trained = wg.train(ens, objs, CFG, seed=1)
    with untrained():
        frozen = wg.train(ens, objs, CFG, seed=1)
    for e, (a, b) in enumerate(zip(trained, frozen)):
        assert np.array_equal(a.snapshot_steps, b.snapshot_steps) and np.allclose(a.snapshot_times, b.snapshot_times)
        assert np.array_equal(b.snapshots, np.broadcast_to(mus[e].theta.numpy(), b.snapshots.shape))
        assert np.all(b.risk == b.risk[0]) and not np.all(a.risk == a.risk[0])


def test_stacked_three_spin_matches_each_target():
    fs = [ThreeSpin.random(5, seed=s) for s in range(E)]
    x = fs[0].sampler()(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xs = torch.stack([x, 2 * x, -x])
    out = ThreeSpin.stack(fs)(xs)
    for e, f in enumerate(fs):
        assert torch.allclose(out[e], f(xs[e]), rtol=1e-12)


def test_bad_ensembles_are_rejected():
    mus, objs = _three_spin_problem()
    with pytest.raises(ValueError, match="share unit family"):
        Ensemble.stack([mus[0], wg.ParticleMeasure(mus[1].theta[:5], mus[1].unit)])
    with pytest.raises(ValueError, match="member objectives"):
        wg.train(Ensemble.stack(mus), objs[:2], CFG)
    with pytest.raises(ValueError, match="one type"):
        EnsembleRisk([objs[0], wg.DatasetRisk(torch.zeros(3, 4), torch.zeros(3))])
    with pytest.raises(ValueError, match="one per member"):
        wg.train(Ensemble.stack(mus), objs, CFG, seed=[1, 2])


def test_threads_follow_the_work_and_the_override():
    assert runtime.auto_threads(1e5) == 1
    with runtime.num_threads(2):
        assert runtime.auto_threads(1e12) == 2  # never above the threads this process was given
    with runtime.use(threads=3):
        assert runtime.threads_for(1e5) == 3
        assert runtime.threads_for(1e5, threads=1) == 1
    with pytest.raises(ValueError, match="positive integer"):
        runtime.threads_for(1e5, threads=0)
    before = torch.get_num_threads()
    seen = []
    mus, objs = _three_spin_problem()
    wg.train(mus[0], objs[0], CFG, threads=2, callback=lambda k, m, J: seen.append(torch.get_num_threads()))
    assert set(seen) == {2} and torch.get_num_threads() == before


def test_block_workers_give_the_same_numbers(monkeypatch):
    """Member blocks on two worker threads: bit-identical to one thread (the blocks are independent)."""
    seen = []
    real = measure.map_blocks
    monkeypatch.setattr(
        measure, "map_blocks", lambda f, items, workers: seen.append(workers) or real(f, items, workers)
    )
    monkeypatch.setattr(blocks, "STEP_BLOCK_BYTES", 96 * 6)  # n = 12 float64: one member's 6 samples a block
    monkeypatch.setattr(blocks, "MIN_STEP_SAMPLES", 1)
    mus, objs = _three_spin_problem()
    one = wg.train(Ensemble.stack(mus), objs, CFG, seed=3, threads=1)
    intra = []
    two = wg.train(
        Ensemble.stack(mus), objs, CFG, seed=3, threads=2, callback=lambda *a: intra.append(torch.get_num_threads())
    )
    assert set(seen) == {1, 2} and set(intra) == {1}  # two block workers, one intra-op thread each
    for a, b in zip(one, two):
        assert np.array_equal(a.snapshots, b.snapshots) and np.array_equal(a.risk, b.risk)


def test_block_workers_run_one_intra_op_thread_each():
    # OpenMP gives a new thread the process default, not its creator's count: each worker sets its own
    # and keeps it when the calling thread changes its own count after the workers started
    for outer in (1, 2, 1):
        with runtime.num_threads(outer):
            assert runtime.map_blocks(lambda i: torch.get_num_threads(), range(6), workers=2) == [1] * 6
            assert torch.get_num_threads() == outer  # the calling thread keeps its count


def test_thread_plan_counts_the_whole_ensemble():
    from wgflow.flows.train import _thread_plan

    mus, objs = _three_spin_problem(n=1024, d=10, dtype=torch.float32)
    ens, risk = Ensemble.stack(mus), EnsembleRisk(objs)
    with runtime.num_threads(2):
        one = _thread_plan(EnsembleRisk(objs[:1]), Ensemble.of(mus[0]), None)
        assert one(204) == (1, 1)  # one member: 1.5e7 flops, one thread
        assert _thread_plan(EnsembleRisk(objs[:1]), Ensemble.of(mus[0]), 2)(204) == (2, 1)  # inside its operations
        assert _thread_plan(risk, ens, None)(204) == (1, 2)  # three members: 4.5e7 flops, two block workers
        assert _thread_plan(risk, ens, None)(2) == (1, 1)
        assert _thread_plan(risk, ens, 3)(2) == (1, 3)  # an explicit count is kept
        assert _thread_plan(risk, ens, 3, block_workers=False)(2) == (3, 1)  # compiled steps: intra-op threads


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile's inductor backend needs a C++ compiler")
def test_compiled_ensemble_step_gives_the_eager_trajectory():
    """compile=True (torch.compile of each block's forward, loss and vjp): the eager trajectory to 1e-6."""
    mus, objs = _three_spin_problem()
    cfg = dataclasses.replace(CFG, steps=15, batch_schedule=())  # one block shape: one compilation
    eager = wg.train(Ensemble.stack(mus), objs, cfg, seed=5)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    with runtime.use(compile=True):
        compiled = wg.train(Ensemble.stack(mus), objs, cfg, seed=5)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > graphs  # the step was compiled
    for a, b in zip(eager, compiled):
        assert np.allclose(a.snapshots, b.snapshots, rtol=0, atol=1e-6) and np.allclose(a.risk, b.risk, rtol=1e-6)
    assert eager[0].risk[-1] < eager[0].risk[0]
    single = wg.train(mus[0], objs[0], cfg, seed=5, compile=True)  # a single flow: the ensemble of one
    assert np.allclose(single.snapshots, wg.train(mus[0], objs[0], cfg, seed=5).snapshots, rtol=0, atol=1e-6)


def test_device_option_is_validated():
    with pytest.raises(ValueError, match="cpu', 'cuda' or 'auto"):
        runtime.resolve_device("tpu")
    assert runtime.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            runtime.resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_flow_ensemble_and_resume_on_cuda():
    mus, objs = _three_spin_problem()
    single = wg.train(mus[0], objs[0], CFG, seed=1, device="cuda")
    assert single.final.theta.device.type == "cuda" and single.risk[-1] < single.risk[0]
    cpu = wg.train(mus[0], objs[0], CFG, seed=1)
    assert math.isclose(float(single.risk[0]), float(cpu.risk[0]), rel_tol=1e-9)  # same start, same test set
    ens = Ensemble.stack(mus)
    ref = wg.train(ens, objs, CFG, seed=5, device="cuda")
    ck = _MemoryCheckpointer(every=10, fail_at=20)
    with pytest.raises(KeyboardInterrupt):
        wg.train(ens, objs, CFG, seed=5, checkpointer=ck, device="cuda")
    ck.fail_at = None
    res = wg.train(ens, objs, CFG, seed=5, checkpointer=ck, device="cuda")
    for a, b in zip(ref, res):
        assert b.final.theta.device.type == "cuda"
        assert np.array_equal(a.final.numpy(), b.final.numpy()) and np.array_equal(a.risk, b.risk)


def test_cli_preset_threads_and_device_options(tmp_path, capsys, monkeypatch):
    import importlib

    from wgflow.cli import app as cli

    train_module = importlib.import_module("wgflow.flows.train")  # the module (wgflow.flows.train is the function)

    asked = []  # what the flows of `wgflow run --compile` see as the compile default
    monkeypatch.setattr(train_module, "compile_for", lambda c: asked.append(runtime.compile_for(c)) or asked[-1])

    store = str(tmp_path / "store")
    assert cli.main(["run", "rve-3spin", "--threads", "0", "--store", store]) == 2
    assert cli.main(["run", "rve-3spin", "--preset", "nope", "--store", store]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "run",
                "teacher-student",
                "--compile",  # single flows: stay eager
                "--set",
                "n=8",
                "--set",
                "steps=20",
                "--threads",
                "1",
                "--device",
                "cpu",
                "--store",
                store,
                "--json",
            ]
        )
        == 0
    )
    assert asked and set(asked) == {True}


def _classification_problem():
    """Member 0: labels sign(x_1), separated after a few steps; member 1: random labels, never separated."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 60, 3, generator=g, dtype=torch.float64)
    x[..., 0] = 1.0  # bias coordinate
    y = torch.stack([torch.sign(x[0, :, 1]), torch.where(torch.rand(60, generator=g) < 0.5, -1.0, 1.0).double()])
    unit = wg.ReLU(3)
    mus = [wg.ParticleMeasure(unit.init(16, generator=g, dtype=torch.float64, kind="sphere"), unit) for _ in range(2)]
    objs = [wg.DatasetRisk(x[e], y[e], loss="logistic") for e in range(2)]
    return Ensemble.stack(mus), objs, x, y


def test_stop_rule_stops_each_member_at_its_own_check_and_resumes_exactly():
    from wgflow.flows import StopRule
    from wgflow.objectives.margins import separates

    ens, objs, x, y = _classification_problem()
    cfg = wg.FlowConfig(eta=4.0, steps=400, schedule="inv_sqrt", risk_every=10)
    rule = StopRule(separates(x, y), every=10)
    free = wg.train(ens, objs, cfg, seed=0)
    stopped = wg.train(ens, objs, cfg, seed=0, stop=rule)
    k0 = stopped[0].meta["stopped_at"]
    assert k0 is not None and 0 < k0 < 400 and k0 % 10 == 0 and stopped[1].meta["stopped_at"] is None
    assert free[0].meta["stopped_at"] is None
    # member 0 is the flow of k0 steps (the first check at which it separates the data); member 1 is untouched
    alone = wg.train(ens.member(0), objs[0], cfg, seed=0, steps=k0)
    assert torch.allclose(stopped[0].final.theta, alone.final.theta, rtol=0, atol=1e-10)  # batched vs single: rounding
    assert bool(separates(x[0], y[0])(Ensemble.of(alone.final))[0])
    assert not bool(
        separates(x[0], y[0])(Ensemble.of(wg.train(ens.member(0), objs[0], cfg, seed=0, steps=k0 - 10).final))[0]
    )
    assert torch.equal(stopped[1].final.theta, free[1].final.theta)
    assert np.array_equal(stopped[0].snapshot_times, free[0].snapshot_times)  # time passes
    ck = _MemoryCheckpointer(every=k0 + 5, fail_at=k0 + 5)  # interrupted after member 0 stopped
    with pytest.raises(KeyboardInterrupt):
        wg.train(ens, objs, cfg, seed=0, stop=rule, checkpointer=ck)
    ck.fail_at = None
    resumed = wg.train(ens, objs, cfg, seed=0, stop=rule, checkpointer=ck)
    for a, b in zip(stopped, resumed):
        assert torch.equal(a.final.theta, b.final.theta) and a.meta["stopped_at"] == b.meta["stopped_at"]
    # every member stopped: the remaining steps pass without a step
    both = wg.train(ens, objs, cfg, seed=0, stop=StopRule(lambda e: np.ones(e.E, dtype=bool), every=300))
    assert all(
        t.meta["stopped_at"] == 0 and torch.equal(t.final.theta, ens.member(i).theta) for i, t in enumerate(both)
    )
    assert np.array_equal(both[0].snapshot_times, free[0].snapshot_times)
