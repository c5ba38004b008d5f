"""Where and how a flow runs: device, intra-op threads, random generators.

None of this changes the mathematics of a flow; it only decides where the tensors live and
how many threads torch uses for them.

Threads. Small steps are dispatch-bound: a second intra-op thread buys nothing and, when
another process is busy on the same cores, torch's worker threads wait on each other and a
step becomes many times slower. :func:`auto_threads` therefore
gives one thread below ~:data:`FLOPS_PER_THREAD` floating-point operations per step and at
most the current ``torch.get_num_threads()`` (which a sweep worker has already set to its share
of the cores, so several local workers never oversubscribe). An ensemble counts the work of all
its members: from ~:data:`FLOPS_PER_WORKER` flops per step its member blocks run on that many
worker threads (:func:`map_blocks`, one intra-op thread each; same numbers as one thread).
``threads=`` in :func:`wgflow.train`, :func:`use` (``wgflow run --threads``) override it.

Compilation. ``compile=True`` (:func:`wgflow.train`, :func:`use`, ``wgflow run --compile``) runs the
step blocks of a flow or ensemble through ``torch.compile`` (:func:`wgflow.measures.measure.compiled_block_step`).
Compiling pays off per block, but sampling, targets and updates stay eager and the first step waits for the
compiler, so whole runs gain little (benchmarks/bench_ensemble.py times both): off by default.
Compiled code is not thread-safe (pytorch/pytorch#118260): a compiled ensemble uses intra-op threads,
never block workers.

Device. ``device="cpu" | "cuda" | "auto"`` (``auto``: CUDA when available). The particles,
the objective's data and the generators are put on that device; checkpoints are always
written from host memory and restored onto the run's device. The CPU and CUDA generators are
different algorithms, so the same seed gives different (equally valid) numbers on each.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence

import torch

from ..errors import ConfigError
from ..measures.blocks import map_blocks

__all__ = [
    "use",
    "resolve_device",
    "auto_threads",
    "threads_for",
    "map_blocks",
    "compile_for",
    "make_generators",
    "FLOPS_PER_THREAD",
    "FLOPS_PER_WORKER",
]

#: floating-point operations per step per intra-op thread: below it a second thread costs more in
#: synchronisation than it gains, most of all when another process shares the cores.
FLOPS_PER_THREAD = 5e8
#: floating-point operations per step per block worker of an ensemble (whole ensemble): two workers from
#: 3e7, i.e. rve-3spin's 10-member ensembles at n = 512 and 1024 (benchmarks/bench_ensemble.py).
FLOPS_PER_WORKER = 1.5e7

_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar("wgflow_threads", default=None)
_DEVICE: contextvars.ContextVar[str | None] = contextvars.ContextVar("wgflow_device", default=None)
_COMPILE: contextvars.ContextVar[bool] = contextvars.ContextVar("wgflow_compile", default=False)


@contextlib.contextmanager
def use(*, threads: int | None = None, device: str | None = None, compile: bool | None = None) -> Iterator[None]:
    """Defaults for every flow inside the block (``None`` keeps the current default)."""
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a positive integer, got {threads!r}")
    if device is not None:
        resolve_device(device)  # validate early
    t1 = _THREADS.set(threads if threads is not None else _THREADS.get())
    t2 = _DEVICE.set(device if device is not None else _DEVICE.get())
    t3 = _COMPILE.set(bool(compile) if compile is not None else _COMPILE.get())
    try:
        yield
    finally:
        _COMPILE.reset(t3)
        _DEVICE.reset(t2)
        _THREADS.reset(t1)


def compile_for(compile: bool | None = None) -> bool:
    """Whether a flow's step runs compiled: explicit ``compile`` > :func:`use` default > False."""
    return bool(compile) if compile is not None else _COMPILE.get()


def check_options(*, device: str | None = None, threads: int | None = None) -> None:
    """Reject a bad ``threads`` (< 1) or an unusable ``device`` (ConfigError) before a run writes anything."""
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be a positive integer, got {threads}")
    if device is not None:
        resolve_device(device)


def resolve_device(device: str | torch.device | None, default: torch.device | None = None) -> torch.device:
    """``None`` -> the :func:`use` default, else ``default`` (the particles' device), else CPU."""
    device = device if device is not None else _DEVICE.get()
    if device is None:
        return default if default is not None else torch.device("cpu")
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA device (use --device cpu or auto)")
    return dev


def auto_threads(flops_per_step: float, per_thread: float = FLOPS_PER_THREAD) -> int:
    """One thread per ~``per_thread`` flops of a step, at least 1, at most torch.get_num_threads()."""
    return max(1, min(torch.get_num_threads(), int(flops_per_step // per_thread)))


def threads_for(flops_per_step: float, threads: int | None = None, per_thread: float = FLOPS_PER_THREAD) -> int:
    """The thread count of a flow: explicit ``threads`` > :func:`use` default > :func:`auto_threads`."""
    threads = threads if threads is not None else _THREADS.get()
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        return threads
    return auto_threads(flops_per_step, per_thread)


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """torch intra-op threads = n inside the block, restored after."""
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != old:
            torch.set_num_threads(old)


def _on(g: torch.Generator, device: torch.device) -> torch.Generator:
    if g.device.type == device.type:
        return g
    # CPU and CUDA generators are different algorithms; a generator handed over for another device is
    # replaced by one of that device seeded with its seed (numbers differ from the CPU run, by nature)
    return torch.Generator(device).manual_seed(g.initial_seed())


def make_generators(device: torch.device, generator, seed, members: int | None) -> list[torch.Generator]:
    """One generator per member (``members=None``: a single flow, list of one).

    ``generator``: a generator or a sequence of them; else ``seed``: an int (member e gets
    ``seed + e``) or a sequence of ints.
    """
    E = 1 if members is None else members
    if generator is not None:
        gens = list(generator) if isinstance(generator, Sequence) else [generator]
    else:
        seeds = list(seed) if isinstance(seed, Sequence) else [int(seed) + e for e in range(E)]
        gens = [torch.Generator(device).manual_seed(int(s)) for s in seeds]
    if len(gens) != E:
        raise ConfigError(f"need {E} generators/seeds (one per member), got {len(gens)}")
    return [_on(g, device) for g in gens]
