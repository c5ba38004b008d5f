"""Weak scaling of sharded particle flows (1 vs 2 gloo ranks at fixed n per rank), communication apart.

Each configuration runs under ``torchrun`` (this file is its own worker): every rank holds
``n_per_rank`` particles of a ReLU teacher-student flow (d = 10, p = 11, online SGD with
B fresh samples per step, float64), and the benchmark reports per step

* ``step_s``   wall time of a flow step (slowest rank; fastest of ``--repeats`` runs),
* ``comm_s``   time inside the per-step all-reduce of the (B,) output (includes waiting for
  the slower rank, i.e. load imbalance),
* ``allreduce_s``  a bare all-reduce of B doubles after a barrier (pure communication latency),
* ``peak_MiB`` peak resident memory of a rank,

and the per-particle-per-sample compute cost that the projection in docs/parallel.md uses.

Usage::

    python benchmarks/bench_distributed.py              # n/rank = 20000, B = 512, 20 steps
    python benchmarks/bench_distributed.py --quick      # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _worker(args) -> None:
    import torch
    import torch.distributed as dist

    from wgflow.cli import launch
    from wgflow.parallel.sharded import init_particles, shard_range, train_sharded, world

    torch.set_num_threads(1)  # one core per rank: weak scaling on a 2-core machine
    if "WORLD_SIZE" in os.environ:
        dist.init_process_group("gloo")
    rank, P = world()
    n = args.n_per_rank * P
    ns = launch.build_parser().parse_args(
        [
            "--width",
            str(n),
            "--dim",
            "10",
            "--batch",
            str(args.batch),
            "--steps",
            str(args.steps),
            "--risk-every",
            str(args.steps),
            "--n-snapshots",
            "2",
            "--n-test",
            str(args.batch),
        ]
    )
    unit, obj, cfg = launch.build_problem(ns)
    theta0 = init_particles(unit, n, *shard_range(n, P, rank), seed=0, dtype=torch.float64)
    train_sharded(theta0, unit, obj, cfg, n=n, seed=0, max_particles=1000)  # warm-up
    # the fastest of `repeats` runs: robust to other jobs sharing the cores
    runs = [train_sharded(theta0, unit, obj, cfg, n=n, seed=0, max_particles=1000)[1] for _ in range(args.repeats)]
    stats = min(runs, key=lambda s: s["train_s"])
    h = torch.zeros(args.batch, dtype=torch.float64)
    reps = 200
    if P > 1:
        dist.barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        if P > 1:
            dist.all_reduce(h)
    bare = (time.perf_counter() - t0) / reps
    evals = stats["n_reduce"] - args.steps  # all-reduces of risk evaluations (not steps)
    t = torch.tensor([stats["train_s"], stats["comm_s"], bare], dtype=torch.float64)
    import resource

    mem = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0], dtype=torch.float64)
    if P > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        dist.all_reduce(mem, op=dist.ReduceOp.MAX)
        dist.destroy_process_group()
    if rank == 0:
        step = float(t[0]) / args.steps
        print(
            json.dumps(
                {
                    "P": P,
                    "n_per_rank": args.n_per_rank,
                    "n": n,
                    "B": args.batch,
                    "p": unit.p,
                    "steps": args.steps,
                    "risk_evals": evals,
                    "step_s": step,
                    "comm_s": float(t[1]) / max(stats["n_reduce"], 1),
                    "allreduce_s": float(t[2]),
                    "compute_per_particle_sample_s": (step - float(t[1]) / max(stats["n_reduce"], 1))
                    / (args.n_per_rank * args.batch),
                    "peak_MiB": float(mem[0]),
                }
            ),
            flush=True,
        )


def _run(P: int, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={P}",
        __file__,
        "--worker",
        "--n-per-rank",
        str(args.n_per_rank),
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--repeats",
        str(args.repeats),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n-per-rank", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (the fastest is kept)")
    ap.add_argument("--quick", action="store_true", help="n/rank = 2000, 10 steps")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.n_per_rank, args.steps = 2000, 10
    if args.worker:
        return _worker(args)
    rows = [_run(P, args) for P in (1, 2)]
    print(
        f"weak scaling, n/rank = {args.n_per_rank}, B = {args.batch}, p = {rows[0]['p']}, float64, gloo, "
        f"{args.steps} steps"
    )
    print(
        f"{'P':>2} {'n':>8} {'step ms':>9} {'comm ms':>9} {'bare allreduce us':>18} {'ns/(particle*sample)':>21} "
        f"{'peak MiB':>9} {'efficiency':>10}"
    )
    for r in rows:
        eff = rows[0]["step_s"] / r["step_s"]
        print(
            f"{r['P']:>2} {r['n']:>8} {1e3 * r['step_s']:>9.2f} {1e3 * r['comm_s']:>9.3f} "
            f"{1e6 * r['allreduce_s']:>18.1f} {1e9 * r['compute_per_particle_sample_s']:>21.3f} "
            f"{r['peak_MiB']:>9.0f} {eff:>10.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
