"""Running experiments against the store: a store-backed RunContext, resume, signals, progress.

:func:`execute` is what ``wgflow run`` calls::

    validate config (nothing written on ConfigError) -> create or resume the run
    -> Experiment.run(cfg, StoreContext) -> claims, metrics, artifacts -> final status

A run's files live in ``<store>/runs/<run_id>/``. Completed stages (``ctx.stage``) are
``.npz`` files there, and flows save checkpoints every ``checkpoint_every`` steps, so
``resume=RUN_ID`` re-runs the experiment with the stored config and seed, skips the
completed stages and restarts the flow in progress from its checkpoint. float64 CPU
runs are deterministic, so a resumed run ends with the numbers of an uninterrupted one.

SIGINT / SIGTERM mark the run ``interrupted`` (exit 130 / 143); SIGKILL leaves it
``running``, and it resumes the same way. NaN/Inf (:class:`DivergenceError`) mark it
``failed`` with the remedy in the message. Checkpoints keep two generations: a damaged one
is set aside (``<key>.npz.damaged-<time>``) and the flow resumes from the previous one, or
from its start, saying so in the log.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..control import untrained as no_training
from ..domains import check_seed
from ..errors import ConfigError, DivergenceError
from ..flows.runtime import num_threads
from ..flows.runtime import use as flow_runtime
from ..plotting.verdicts import caption_text
from ..store import Store, StoreError
from ..store.provenance import provenance, start_run
from .configs import config_to_dict, make_config
from .contract import ExperimentResult
from .registry import get_experiment
from .run import run_and_judge
from .store_context import DEFAULT_CHECKPOINT_EVERY, StoreCheckpointer, StoreContext

__all__ = [
    "StoreContext",
    "StoreCheckpointer",
    "RunOutcome",
    "Terminated",
    "terminate_raises",
    "execute",
    "about",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_CLAIMS",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143
#: with ``--strict``: the run completed, but a registered claim failed
EXIT_CLAIMS = 3


@dataclass
class RunOutcome:
    """What :func:`execute` reports: the run, its final status and the experiment's result."""

    experiment: str
    run_id: str
    status: str
    exit_code: int
    message: str | None = None
    result: ExperimentResult = field(default_factory=ExperimentResult)
    untrained: bool = False

    def __repr__(self) -> str:
        """One line: the experiment, run, status and the tally of its claims."""
        control = ", untrained" if self.untrained else ""
        return f"RunOutcome({self.experiment!r}, run {self.run_id}, {self.status}{control}: {self.result!r})"

    def _repr_html_(self) -> str:
        """Notebook summary: the run's line, then its claims (:meth:`ExperimentResult._repr_html_`)."""
        control = ", untrained control" if self.untrained else ""
        return f"<p><b>{self.experiment}</b> run {self.run_id}: {self.status}{control}</p>" + self.result._repr_html_()

    def to_dict(self) -> dict[str, Any]:
        r = self.result.to_dict()
        return {
            "experiment": self.experiment,
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "untrained": self.untrained,
            **r,
        }


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler of :func:`terminate_raises` (exit 143)."""


def _raise_terminated(signum, frame):
    raise Terminated()


class terminate_raises:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: no change)."""

    def __enter__(self):
        self._old = None
        if _is_main_thread():
            self._old = signal.signal(signal.SIGTERM, _raise_terminated)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def execute(
    name: str | None = None,
    preset: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    store: Store | str | os.PathLike | None = None,
    resume: str | None = None,
    sweep_id: str | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    show_progress: bool | None = None,
    quiet: bool = False,
    force: bool = False,
    untrained: bool = False,
    device: str | None = None,
    threads: int | None = None,
) -> RunOutcome:
    """Run (or resume) one experiment in the store and record everything; ``store``: a :class:`Store`, or
    its path (opened for the run and closed after it), or None for the default.

    Raises :class:`ConfigError` before writing anything when the experiment, preset, seed or config
    is invalid, or when ``resume`` names no run of the store. ``force`` resumes a run whose
    recorded process is alive but is not wgflow (a process id reused after a crash).
    ``untrained=True`` runs the negative control (:func:`wgflow.control.untrained`: no
    training step anywhere); the run is recorded as such and a resume keeps it so.
    ``device`` (cpu | cuda | auto) and ``threads`` (torch intra-op threads) apply to every flow of
    the run (:func:`wgflow.flows.runtime.use`); by default flows stay on the CPU and pick their threads.
    """
    if not isinstance(store, Store):  # opened here, so closed here
        with Store.using(store) as opened:
            return execute(
                name,
                preset,
                overrides,
                seed=seed,
                store=opened,
                resume=resume,
                sweep_id=sweep_id,
                checkpoint_every=checkpoint_every,
                show_progress=show_progress,
                quiet=quiet,
                force=force,
                untrained=untrained,
                device=device,
                threads=threads,
            )
    seed = check_seed(seed, "seed")
    if checkpoint_every < 1:
        raise ConfigError(f"checkpoint_every must be a positive integer, got {checkpoint_every}")
    exp, cfg, seed, preset, untrained, run_id = _begin(
        store, name, preset, overrides, seed, resume, force, sweep_id, untrained, device, threads
    )
    name = exp.name
    ctx = StoreContext(store, run_id, seed, checkpoint_every=checkpoint_every, show_progress=show_progress, quiet=quiet)
    control = ", untrained control" if untrained else ""
    ctx.log(f"{'resuming' if resume else 'running'} {name} ({preset}{control}, seed {seed}) in {ctx.out_dir}")
    return _run_and_record(
        store, exp, cfg, ctx, preset=preset, untrained=untrained, quiet=quiet, device=device, threads=threads
    )


def _begin(store, name, preset, overrides, seed, resume, force, sweep_id, untrained, device, threads):
    """Take over the run ``resume`` (its stored experiment, config, seed, preset and control flag) or
    start a new run of ``name``: returns (experiment, config, seed, preset, untrained, run id)."""
    if resume is not None:
        exp, cfg, seed, preset, untrained = _take_over(store, resume, name, preset, force)
        return exp, cfg, seed, preset, untrained, resume
    if name is None:
        raise ConfigError("no experiment named")
    exp = get_experiment(name)
    cfg = make_config(exp, preset, overrides)
    run_id = start_run(
        store,
        name,
        config_to_dict(cfg),
        seed,
        about=about(exp),
        origin=provenance({"device": device or "cpu", "threads": threads or "auto"}),
        preset=preset,
        sweep_id=sweep_id,
        untrained=untrained,
    )
    return exp, cfg, seed, preset, untrained, run_id


def about(exp) -> dict[str, Any]:
    """What the report says about ``exp`` (:meth:`wgflow.store.Store.describe_experiment`): its title,
    description, reference and figure captions as text."""
    captions = {k: caption_text(c) for k, c in (getattr(exp, "captions", None) or {}).items()}
    return {
        "title": exp.title,
        "description": exp.description,
        "reference": exp.reference,
        "captions": {k: t for k, t in captions.items() if t},
    }


def _take_over(store: Store, resume: str, name: str | None, preset: str, force: bool):
    """:func:`_resumed`, with the run marked as resumed by this process (ConfigError: a live process owns it)."""
    exp, cfg, seed, preset, untrained = _resumed(store, resume, name, preset)
    try:
        store.mark_resumed(resume, host=socket.gethostname(), force=force)
    except RuntimeError as e:  # a live process owns the run directory
        raise ConfigError(str(e)) from None
    store.describe_experiment(exp.name, **about(exp))
    return exp, cfg, seed, preset, untrained


def _resumed(store: Store, resume: str, name: str | None, preset: str):
    """(experiment, config, seed, preset, untrained) of the unfinished run ``resume``.

    ``preset`` stands in when the run recorded none.
    """
    try:
        row = store.get_run(resume)
    except KeyError as e:
        raise ConfigError(str(e.args[0])) from None
    if row["status"] == "completed":
        raise ConfigError(f"run {resume!r} already completed; nothing to resume")
    if name is not None and name != row["experiment"]:
        raise ConfigError(f"run {resume!r} is a run of {row['experiment']!r}, not {name!r}")
    exp = get_experiment(row["experiment"])
    preset = row["preset"] or preset
    return exp, make_config(exp, preset, row["config"]), row["seed"], preset, bool(row.get("untrained"))


def _run_and_record(
    store: Store,
    exp,
    cfg,
    ctx: StoreContext,
    *,
    preset: str | None = None,
    untrained: bool,
    quiet: bool,
    device: str | None = None,
    threads: int | None = None,
) -> RunOutcome:
    """Run the experiment in ``ctx``; record its claims, metrics and artifacts, or why it stopped."""
    name, run_id = exp.name, ctx.run_id
    t0, cpu0 = time.monotonic(), time.process_time()
    try:
        # threads: the flows' default and torch's own count for the run, which the residual models' training uses
        with (
            terminate_raises(),
            no_training(untrained),
            flow_runtime(device=device, threads=threads),
            num_threads(threads) if threads else contextlib.nullcontext(),
        ):
            result = run_and_judge(exp, cfg, ctx, preset)
    except StoreError:  # the store itself failed: nothing more can be recorded
        raise
    except (Exception, KeyboardInterrupt, Terminated) as e:  # record why it stopped; the store stays consistent
        return _end(store, name, run_id, *_stopped(e, run_id, quiet), t0)

    with signals_blocked():  # claims, metrics and status land together even if a signal arrives now
        _record_artifacts(store, run_id, result)
        store.complete_run(
            run_id,
            [c.to_dict() for c in result.claims],
            [(k, None, v) for k, v in result.metrics.items() if _is_number(v)] + _compute(t0, cpu0),
            duration_s=time.monotonic() - t0,
        )
    # checkpoints are only needed to resume; stages stay (they hold the measured data)
    for f in (ctx.out_dir / "checkpoints").glob("*.npz"):  # both generations; damaged ones stay for inspection
        f.unlink()
    return RunOutcome(name, run_id, "completed", EXIT_OK, None, result, untrained)


def _compute(t0: float, cpu0: float) -> list[tuple[str, None, float]]:
    """The compute of this attempt as summary metrics: wall seconds and this process's CPU seconds (all
    its threads), so a record says what a result cost."""
    return [("run.wall_s", None, time.monotonic() - t0), ("run.cpu_s", None, time.process_time() - cpu0)]


def _stopped(e: BaseException, run_id: str, quiet: bool) -> tuple[str, int, str]:
    """(status, exit code, one-line message) of a run stopped by ``e``."""
    resume = f"resume with `wgflow run --resume {run_id}`"
    if isinstance(e, DivergenceError):
        return "failed", EXIT_FAILED, f"diverged: {e}"
    if isinstance(e, KeyboardInterrupt):
        return "interrupted", EXIT_SIGINT, f"interrupted by SIGINT; {resume}"
    if isinstance(e, Terminated):
        return "interrupted", EXIT_SIGTERM, f"interrupted by SIGTERM; {resume}"
    if isinstance(e, ConfigError):  # a name or path refused mid-run (a figure name from a plugin's config): usage
        return "failed", EXIT_USAGE, str(e)
    if isinstance(e, OSError):  # the disk, not the run: one line with a remedy; checkpoints are atomic, the last stays
        return "failed", EXIT_FAILED, os_fault(e, run_id)
    if _out_of_memory(e):
        return "failed", EXIT_FAILED, out_of_memory(e)
    if not quiet:  # an error of the experiment's code: its last frames help
        print(traceback.format_exc(limit=-3), file=sys.stderr)
    return "failed", EXIT_FAILED, f"{type(e).__name__}: {e}"


def os_fault(e: OSError, run_id: str) -> str:
    """One line for an OS error while a run writes its files: what failed, where, and the remedy."""
    where = f" ({e.filename})" if e.filename else ""
    remedy = (
        "free disk space or name another --store"
        if e.errno in (errno.ENOSPC, errno.EDQUOT)
        else "check the store folder's permissions and free space"
    )
    return f"{e.strerror or type(e).__name__}{where}; {remedy}, then resume with `wgflow run --resume {run_id}`"


def _out_of_memory(e: BaseException) -> bool:
    # MemoryError from numpy and Python; torch's CPU allocator raises RuntimeError ("... tried to allocate N
    # bytes"), its CUDA one torch.OutOfMemoryError: told by name, the runner does not import torch for it
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "tried to allocate" in str(e)


def out_of_memory(e: BaseException) -> str:
    """One line for an allocation that failed: the remedy is a smaller problem."""
    text = " ".join(str(e).split())[:200]
    return f"out of memory ({text or type(e).__name__}); lower the sizes (n, batch, data) with --set, or use a larger machine"


def _record_artifacts(store: Store, run_id: str, result: ExperimentResult) -> None:
    """Record the result's files that the context did not already record (e.g. written by a library call)."""
    known = {a["path"] for a in store.artifacts(run_id)}
    for key, path in result.artifacts.items():
        if str(Path(path).resolve()) not in {str(Path(k).resolve()) for k in known} and Path(path).exists():
            kind = "figure" if Path(path).suffix.lower() in (".png", ".svg", ".jpg", ".gif") else "file"
            store.add_artifact(run_id, key, path, kind=kind)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _end(store: Store, name: str, run_id: str, status: str, code: int, message: str | None, t0: float) -> RunOutcome:
    # the final write must happen even if a second signal arrives now
    with signals_blocked():
        store.finish_run(run_id, status, message, duration_s=time.monotonic() - t0)
    return RunOutcome(name, run_id, status, code, message)


class signals_blocked:
    """Defer SIGINT/SIGTERM (main thread only) until the block ends."""

    def __enter__(self):
        self._old = None
        if _is_main_thread():
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

    def __exit__(self, *exc):
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
