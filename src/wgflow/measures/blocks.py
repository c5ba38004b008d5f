r"""Block sizes and block workers: the one policy of the objectives and flows.

The (batch x n) activation matrix is the memory hog of every computation on particles. An
evaluation streams over blocks of particles (:func:`chunk_size`, ~4 MiB per block) and keeps
activations between its forward and backward passes only while they fit in a memory budget
(:data:`DEFAULT_MEMORY_BUDGET`); a training step on the CPU runs (members x samples x n) blocks of
about the L2 cache (:func:`step_blocks`), in which the forward pass, the loss and the backward pass
see each activation while it is in cache. An ensemble's independent member blocks may run on worker
threads (:func:`map_blocks`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = [
    "chunk_size",
    "step_blocks",
    "eval_samples",
    "map_blocks",
    "DEFAULT_MEMORY_BUDGET",
    "BLOCK_BYTES",
    "STEP_BLOCK_BYTES",
    "MIN_STEP_SAMPLES",
    "EVAL_BLOCK_BYTES",
]

#: bytes allowed for all activations of one evaluation; caches between passes are kept only below it.
DEFAULT_MEMORY_BUDGET = 256 * 2**20
#: target size of one (B, chunk) block: small enough to stay in cache, large enough for fast matmuls
#: (benchmarks/bench_core.py times the alternatives).
BLOCK_BYTES = 4 * 2**20
#: bytes of one (members, samples, n) activation block of a training step on the CPU (about the L2 cache).
STEP_BLOCK_BYTES = 2**20
#: samples per step block below which a step streams over particle blocks in two passes instead.
MIN_STEP_SAMPLES = 32
#: bytes of one (E, samples, n) activation block of an ensemble's output off the CPU.
EVAL_BLOCK_BYTES = 16 * 2**20


def chunk_size(batch: int, n: int, dtype: torch.dtype, budget: int | None = None) -> int:
    """Particles per block: a (B, chunk) block of ``BLOCK_BYTES`` (at most a quarter of ``budget``)."""
    budget = DEFAULT_MEMORY_BUDGET if budget is None else int(budget)
    itemsize = torch.empty((), dtype=dtype).element_size()
    block = min(BLOCK_BYTES, budget // 4)
    return int(max(1, min(n, block // (max(batch, 1) * itemsize))))


def step_blocks(E: int, n: int, B: int, theta: torch.Tensor) -> tuple[int, int] | None:
    """(members, samples) per block of a step: an (members, samples, n) block of ~``STEP_BLOCK_BYTES``.

    Several passes run over each activation block (z, h, h', r h'), so blocks that stay in cache beat
    one large batched block (benchmarks/bench_ensemble.py). None: a row of n particles is too wide for
    ``MIN_STEP_SAMPLES`` samples a block, and the step streams over particle blocks (:func:`chunk_size`).
    Off the CPU the whole ensemble is one block while it fits the memory budget.
    """
    size = n * theta.element_size()  # bytes of one (sample, particle-row)
    if theta.device.type != "cpu":
        return (E, B) if E * B * size <= DEFAULT_MEMORY_BUDGET else None
    rows = max(1, STEP_BLOCK_BYTES // size)
    if rows >= B:
        return max(1, min(E, rows // B)), B
    return (1, rows) if rows >= MIN_STEP_SAMPLES else None


def eval_samples(E: int, n: int, itemsize: int, B: int) -> int:
    """Samples per (E, samples, n) block of an ensemble's batched output: ``EVAL_BLOCK_BYTES``."""
    return int(max(1, min(B, EVAL_BLOCK_BYTES // (E * n * itemsize))))


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """``workers`` threads; each block they run sets its own thread count (:func:`_one_thread`): OpenMP gives
    a new thread the process default (all cores), not its creator's count."""
    key = (os.getpid(), workers)  # a forked child has none of its parent's threads
    if key not in _POOLS:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="wgflow-blocks")
        start = threading.Barrier(workers)
        list(pool.map(lambda _: start.wait(), range(workers)))  # start them all now
        _POOLS[key] = pool
    return _POOLS[key]


def map_blocks(fn: Callable, items: Sequence, workers: int = 1) -> list:
    """``[fn(i) for i in items]``, on ``workers`` threads when there are more than one (results in order).

    An ensemble's member blocks are independent, so each worker takes whole blocks with one intra-op
    thread: no work is split inside an operation, and a worker that another process holds back delays
    only its own blocks (OpenMP's split operations wait for their slowest thread when the cores are shared).
    """
    if workers <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    return list(_pool(workers).map(functools.partial(_one_thread, fn), items))


def _one_thread(fn: Callable, item):
    """fn(item) with one intra-op thread in this worker: checked at every block, because torch's lazy per-thread
    initialisation copies the process-wide count (which the calling thread may have changed since) into a
    worker at its first operation."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return fn(item)
