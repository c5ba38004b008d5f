"""Sharded particle flows: the 2-rank gloo run is the single-process flow, to rounding."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.cli import launch
from wgflow.parallel import sharded
from wgflow.parallel.sharded import ShardedObjective, init_particles, noise_generator, shard_range


@pytest.mark.parametrize("n,P", [(37, 2), (10, 3), (5, 5), (1000, 7)])
def test_shard_range_partitions_the_particles(n, P):
    ranges = [shard_range(n, P, r) for r in range(P)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # contiguous, rank ordered
    sizes = [b - a for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_shard_range_needs_a_particle_per_rank():
    with pytest.raises(ValueError, match="n >= P"):
        shard_range(2, 3, 0)


def test_initial_measure_does_not_depend_on_the_number_of_ranks(monkeypatch):
    monkeypatch.setattr(sharded, "INIT_BLOCK", 7)  # several blocks, shards cutting through them
    unit, n = wg.ReLU(3), 40
    ref = init_particles(unit, n, 0, n, seed=5, kind="sphere")
    for P in (2, 3, 6):
        parts = [init_particles(unit, n, *shard_range(n, P, r), seed=5, kind="sphere") for r in range(P)]
        assert torch.equal(torch.cat(parts), ref)
    assert ref.shape == (n, unit.p) and torch.unique(ref[:, 0]).numel() == n  # blocks are not repeated


def test_one_rank_sharded_objective_is_the_objective():
    g = torch.Generator().manual_seed(0)
    teacher = wg.tasks.ReLUTeacher.random(4, 2, generator=g, dtype=torch.float64)
    obj = wg.OnlineRisk(wg.tasks.gaussian_sampler(4), teacher)
    mu = wg.ParticleMeasure(wg.ReLU(4).init(30, generator=g, dtype=torch.float64), wg.ReLU(4))
    J, G = obj.value_and_grad(mu, batch_size=64, generator=torch.Generator().manual_seed(3))
    sh = ShardedObjective(obj, mass=1.0, batch_seed=3)
    J2, G2 = sh.value_and_grad(mu, batch_size=64, generator=torch.Generator().manual_seed(99))  # ignored
    assert J2 == J and torch.equal(G2, G)
    assert sh.risk(mu) == obj.risk(mu)


def test_exact_population_risk_is_not_sharded():
    teacher = wg.tasks.ReLUTeacher.random(3, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="cannot be sharded"):
        ShardedObjective(wg.PopulationRisk(teacher), mass=0.5)


def test_noise_streams_differ_between_ranks():
    a = torch.randn(100, generator=noise_generator(0, 0), dtype=torch.float64)
    b = torch.randn(100, generator=noise_generator(0, 1), dtype=torch.float64)
    assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.4 and not torch.equal(a, b)


def _torchrun(tmp_path, argv, P=2):
    out = tmp_path / "traj.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={P}",
            "-m",
            "wgflow.cli.launch",
            *argv,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])
    return wg.Trajectory.load(out), summary


def _single(argv):
    args = launch.build_parser().parse_args(argv)
    unit, obj, cfg = launch.build_problem(args)
    theta0 = init_particles(unit, args.n, 0, args.n, seed=args.seed, kind=args.init)
    return wg.train(wg.ParticleMeasure(theta0, unit), obj, cfg, seed=args.seed)


@pytest.mark.slow
def test_two_gloo_ranks_reproduce_the_single_process_sgd_trajectory(tmp_path):
    # width 37 is not divisible by 2 ranks (19 + 18 particles); SGD with fresh samples every step
    argv = [
        "--width",
        "37",
        "--dim",
        "5",
        "--m0",
        "3",
        "--steps",
        "60",
        "--batch",
        "32",
        "--eta",
        "0.5",
        "--risk-every",
        "10",
        "--n-snapshots",
        "6",
        "--seed",
        "4",
    ]
    traj, summary = _torchrun(tmp_path, argv)
    ref = _single(argv)
    assert summary["world_size"] == 2 and summary["n_local_max"] == 19
    assert summary["n_reduce"] == 60 + len(ref.risk)  # one all-reduce per step, one per risk evaluation
    assert traj.snapshots.shape == ref.snapshots.shape == (len(ref.snapshot_steps), 37, 6)
    np.testing.assert_allclose(traj.snapshots, ref.snapshots, rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.risk, ref.risk, rtol=1e-10, atol=0)
    np.testing.assert_array_equal(traj.snapshot_steps, ref.snapshot_steps)
    assert ref.risk[-1] < 0.5 * ref.risk[0]  # it did learn something
    tracked = np.sqrt(((ref.final.numpy() - ref.snapshots[0]) ** 2).sum(1).mean())
    assert summary["tracked_w2"] == pytest.approx(tracked, rel=1e-10)


@pytest.mark.slow
def test_full_batch_data_set_flow_and_subsampled_gather(tmp_path):
    # sigmoid units, full-batch GD on a fixed data set; rank 0 gathers a prefix subsample of each shard
    argv = [
        "--unit",
        "sigmoid",
        "--objective",
        "dataset",
        "--N",
        "200",
        "--batch",
        "0",
        "--width",
        "37",
        "--dim",
        "4",
        "--steps",
        "40",
        "--eta",
        "1.0",
        "--risk-every",
        "10",
        "--init",
        "zero_c",
        "--max-particles",
        "10",
    ]
    traj, summary = _torchrun(tmp_path, argv)
    ref = _single(argv)
    keep = np.r_[0:6, 19:24]  # ceil(10 * 19/37) = 6 rows of rank 0, ceil(10 * 18/37) = 5 of rank 1
    assert summary["gathered"] == traj.final.n == len(keep)
    np.testing.assert_allclose(traj.snapshots, ref.snapshots[:, keep], rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.final.numpy(), ref.final.numpy()[keep], rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.risk, ref.risk, rtol=1e-10, atol=0)
