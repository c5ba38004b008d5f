"""``torchrun`` entry point: a teacher-student flow with its particles sharded over the ranks.

::

    torchrun --nproc_per_node=2 -m wgflow.cli.launch --width 100000 --dim 10 --steps 200 --batch 1024 \\
        --out traj.npz --max-particles 20000
    torchrun --nproc_per_node=8 -m wgflow.cli.launch --device cuda --dtype float32 --width 100000000 ...

Every rank builds the same problem from ``--seed`` (a ReLU teacher f* = (1/m0) sum_j c*_j
relu(w*_j . x), x ~ N(0, I_d), square loss; fresh samples every step or a fixed data set),
draws its own rows of the initial measure (:func:`~wgflow.parallel.sharded.init_particles`,
the same measure for every number of ranks) and runs :func:`~wgflow.parallel.sharded.train_sharded`.
Rank 0 writes the gathered trajectory (``--out``) and prints one JSON line: risk, the exact
tracked-particle bound on W2(mu_T, mu_0), and per-step times with communication separated.
gloo on CPU, NCCL on CUDA (one GPU per rank, ``cuda:$LOCAL_RANK``). Without torchrun it runs
as a single process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

import torch
import torch.distributed as dist

from ..flows import FlowConfig
from ..measures.units import make_unit
from ..objectives.risks import DatasetRisk, OnlineRisk
from ..parallel.sharded import init_particles, shard_range, train_sharded, world
from ..tasks.teacher import ReLUTeacher, gaussian_sampler

__all__ = ["build_parser", "build_problem", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m wgflow.cli.launch", description=__doc__.split("\n")[0])
    p.add_argument("--unit", default="relu", choices=("relu", "sigmoid", "tanh"), help="unit family")
    p.add_argument("--dim", dest="d", type=int, default=10, help="input dimension")
    p.add_argument("--m0", type=int, default=5, help="teacher width")
    p.add_argument(
        "--width", dest="n", type=int, default=1000, help="n, the total number of particles (any n >= ranks)"
    )
    p.add_argument(
        "--objective",
        default="online",
        choices=("online", "dataset"),
        help="online: fresh samples every step; dataset: a fixed sample of --N points",
    )
    p.add_argument("--N", type=int, default=1024, help="data set size (--objective dataset)")
    p.add_argument("--batch", type=int, default=256, help="batch P per step (0: full data / test set)")
    p.add_argument("--n-test", type=int, default=4096, help="test points of the evaluation risk (online)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--eta", type=float, default=0.5, help="step size in mean-field time")
    p.add_argument("--noise", type=float, default=0.0, help="Langevin temperature (per-rank noise streams)")
    p.add_argument("--init", default="gaussian", choices=("gaussian", "sphere", "zero_c"))
    p.add_argument("--seed", type=int, default=0, help="shared seed: teacher, data, batches, initial measure")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--n-snapshots", type=int, default=5)
    p.add_argument("--risk-every", type=int, default=50)
    p.add_argument("--max-particles", type=int, default=None, help="gather at most this many particles")
    p.add_argument("--out", default=None, help="trajectory file written by rank 0 (.npz)")
    return p


def build_problem(args: argparse.Namespace, device="cpu"):
    """(unit, objective, flow config) — identical on every rank (everything is drawn from ``args.seed``)."""
    dtype = getattr(torch, args.dtype)
    g = torch.Generator().manual_seed(args.seed)
    teacher = ReLUTeacher.random(args.d, args.m0, generator=g, dtype=dtype)
    base = gaussian_sampler(args.d)

    def sampler(B, generator=None, dtype=dtype):  # drawn on the CPU generator (shared seed), used on the device
        return base(B, generator=generator, dtype=dtype).to(device)

    def target(x):
        return teacher(x.cpu()).to(device)

    obj: DatasetRisk | OnlineRisk
    if args.objective == "dataset":
        x = base(args.N, generator=g, dtype=dtype)
        obj = DatasetRisk(x.to(device), teacher(x).to(device))
    else:
        obj = OnlineRisk(sampler, target, n_test=args.n_test, test_seed=args.seed + 1)
    unit = make_unit(args.unit, args.d)
    cfg = FlowConfig(
        eta=args.eta,
        steps=args.steps,
        batch_size=args.batch or None,
        noise=args.noise,
        n_snapshots=max(2, args.n_snapshots),
        risk_every=args.risk_every,
    )
    return unit, obj, cfg


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    distributed = "WORLD_SIZE" in os.environ
    device = torch.device("cpu")
    if args.device == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        rank, P = world()
        unit, obj, cfg = build_problem(args, device)
        start, stop = shard_range(args.n, P, rank)
        theta0 = init_particles(
            unit, args.n, start, stop, seed=args.seed, dtype=getattr(torch, args.dtype), device=device, kind=args.init
        )  # (n_r, p)
        traj, stats = train_sharded(theta0, unit, obj, cfg, n=args.n, seed=args.seed, max_particles=args.max_particles)
        summary = _summary(stats, P, device)
        if traj is not None:
            if args.out:
                traj.save(args.out)
            summary.update(
                n=args.n,
                world_size=P,
                steps=args.steps,
                risk_initial=float(traj.risk[0]),
                risk_final=float(traj.risk[-1]),
                tracked_w2=stats["tracked_w2"],
                gathered=int(traj.final.n),
            )
            print(json.dumps(summary), flush=True)
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


def _summary(stats: dict, P: int, device) -> dict:
    """Per-step times, the slowest rank's (max over ranks), and this process's peak memory."""
    keys = ("train_s", "comm_s", "gather_s")
    t = torch.tensor([float(stats[k]) for k in keys] + [_peak_bytes(device)], dtype=torch.float64, device=device)
    if P > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    out = dict(zip(keys, map(float, t[:3])))
    out.update(n_reduce=int(stats["n_reduce"]), n_local_max=int(stats["n_local"]), peak_bytes=int(t[3]))
    return out


def _peak_bytes(device) -> float:
    if device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(device))
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
