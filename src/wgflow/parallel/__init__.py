"""Scaling out: parameter sweeps over executors, and particle flows sharded across processes.

* :mod:`wgflow.parallel.sharded` — :class:`ShardedObjective`, :func:`train_sharded`: n particles
  split over P ranks of torch.distributed, one all-reduce of the (B,) output per step.
* :mod:`wgflow.parallel.launch` — the ``torchrun`` entry point of a sharded teacher-student flow.

See ``docs/parallel.md``.
"""

from .sharded import ShardedObjective, gather_rows, init_particles, shard_range, train_sharded

__all__ = ["ShardedObjective", "gather_rows", "init_particles", "shard_range", "train_sharded"]
