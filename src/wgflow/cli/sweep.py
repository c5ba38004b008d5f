"""``wgflow sweep``: its parser and handler (the sweep itself is :func:`wgflow.parallel.sweep.run_sweep`)."""

from __future__ import annotations

import json

from ..errors import ConfigError
from ..harness import get_experiment, make_config
from ..parallel.grid import expand_grid, parse_grid, parse_seeds
from .args import check_runtime, log, open_store, overrides, preset_args, sets_arg, store_arg

__all__ = ["add_sweep_parser"]


def add_sweep_parser(sub) -> None:
    """Add ``wgflow sweep`` to the CLI's subparsers (called from :mod:`wgflow.cli`)."""
    p = sub.add_parser("sweep", help="run an experiment over a grid of config values x seeds, recorded in the store")
    p.add_argument("name", help="experiment name (see `wgflow list`)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="config values to sweep (repeatable; the product of all grids is run)",
    )
    p.add_argument("--seeds", default="0", metavar="SPEC", help="seeds, e.g. 0-9 or 0,3,7 (default 0)")
    preset_args(p)
    p.set_defaults(func=_cmd_sweep)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch threads of each point (default $WGFLOW_THREADS, else CPU cores / workers, so workers "
        "never oversubscribe)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="where each point's flows run (default $WGFLOW_DEVICE, else cpu)",
    )
    sets_arg(p, "a fixed override for every point (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: CPU cores)")
    p.add_argument("--dask", metavar="ADDRESS", help="run on Dask: tcp://host:8786 (a running scheduler) or 'local'")
    p.add_argument("--sweep-id", help="name of the sweep (default: derived from experiment, preset, grid, seeds)")
    p.add_argument("--json", action="store_true", help="print the sweep's summary as one JSON object on stdout")
    store_arg(p)


def _cmd_sweep(args) -> int:
    # keep start-up fast: the runner imports torch, and the executors and the sweep driver are only for a sweep
    from ..harness.runner import terminate_raises
    from ..parallel.executors import check_dask_address, make_executor
    from ..parallel.sweep import run_sweep

    grid = parse_grid(args.grid)
    for key, value in overrides(args).items():
        if key in grid:
            raise ConfigError(f"{key!r} is both swept (--grid) and fixed (--set or --config)")
        grid[key] = [value]
    seeds = parse_seeds(args.seeds)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be a positive integer, got {args.workers}")
    exp = get_experiment(args.name)
    for ov, _ in expand_grid(grid, seeds[:1]):  # validate before opening the store or starting workers
        make_config(exp, args.preset, ov)
    expand_grid(grid, seeds)  # size check
    check_runtime(args)  # also reads $WGFLOW_DEVICE / $WGFLOW_THREADS
    if args.dask:
        check_dask_address(args.dask)
    with terminate_raises():  # SIGTERM unwinds like SIGINT: workers stopped, points marked, exit 143
        executor = make_executor(args.workers, args.dask)  # a scheduler out of reach: before the store exists
        if args.threads is not None:
            executor.threads = args.threads
        try:
            store = open_store(args)
            summary = run_sweep(
                args.name,
                grid,
                seeds,
                preset=args.preset,
                store=store,
                executor=executor,
                sweep_id=args.sweep_id,
                log=log.info,
                device=args.device,
            )
        finally:
            executor.close()
    if args.json:
        print(json.dumps(summary_dict(summary), default=str))
    else:
        print("\n".join(summary.lines()))
    return 0 if summary.ok else 1


def summary_dict(summary) -> dict:
    """A :class:`~wgflow.parallel.sweep.SweepSummary` for ``sweep --json``: counts, run ids, failures."""
    return {
        "sweep_id": summary.sweep_id,
        "ok": summary.ok,
        "total": summary.total,
        "skipped": summary.skipped,
        "completed": list(summary.completed),
        "failed": [
            {"run_id": rid, "overrides": ov, "seed": seed, "message": why} for rid, ov, seed, why in summary.failed
        ],
        "busy": list(summary.busy),
    }
