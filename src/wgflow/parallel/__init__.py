"""Scaling out: parameter sweeps over executors, and particle flows sharded across processes.

* :mod:`wgflow.parallel.sweep` — :func:`run_sweep`: a grid over an experiment's config x seeds,
  run by an executor, every point recorded in the store with a sweep id, resumable; its grids are
  parsed and expanded by :mod:`wgflow.parallel.grid`, ``wgflow sweep`` is :mod:`wgflow.cli.sweep`.
* :mod:`wgflow.parallel.executors` — :class:`LocalExecutor` (processes), :class:`DaskExecutor`.
* :mod:`wgflow.parallel.sharded` — :class:`ShardedObjective`, :func:`train_sharded`: n particles
  split over P ranks of torch.distributed, one all-reduce of the (B,) output per step.
* :mod:`wgflow.cli.launch` — the ``torchrun`` entry point of a sharded teacher-student flow.
* The report's sweep section (table, scaling plots) is :mod:`wgflow.report.sweep`.

Submodules load on first use, so ``wgflow --help`` does not import torch. See ``docs/parallel.md``.
"""

import importlib

_LAZY = {
    "run_sweep": "sweep",
    "parse_grid": "sweep",
    "parse_seeds": "sweep",
    "expand_grid": "sweep",
    "LocalExecutor": "executors",
    "DaskExecutor": "executors",
    "make_executor": "executors",
    "ShardedObjective": "sharded",
    "train_sharded": "sharded",
    "shard_range": "sharded",
    "init_particles": "sharded",
    "gather_rows": "sharded",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
