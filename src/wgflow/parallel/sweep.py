"""Parameter sweeps: a grid over an experiment's config x seeds, run on an executor, recorded in the store.

::

    wgflow sweep teacher-student --grid n=16,32,64,128 --grid d=2,5 --seeds 0-4 --workers 2
    wgflow sweep teacher-student --grid n=16,32,64 --dask tcp://scheduler:8786

Every point (overrides, seed) is validated with :func:`~wgflow.harness.make_config`
before anything runs (a bad grid writes nothing), recorded as a run of the store with the
sweep's id, and executed by a worker (:func:`run_point`) in a temporary directory. Workers
return claims, metrics and artifact bytes; the driver alone writes the store, so the SQLite
file never crosses a network file system. Re-running the same sweep skips the points that
already completed; failed, killed or interrupted points are retried in their existing run row.
A point that raises, diverges or loses its worker is recorded ``failed`` and the sweep goes on.
SIGTERM / SIGINT to the driver stop its workers (local processes or the Dask tasks and
LocalCluster), mark the unfinished points ``interrupted`` and exit 143 / 130.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import numbers
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._io import check_name
from ..flows.runtime import use as flow_runtime
from ..harness import (
    ConfigError,
    DirectoryContext,
    DivergenceError,
    config_to_dict,
    get_experiment,
    make_config,
)
from ..harness.plugins import import_file
from ..harness.runner import Terminated, about, signals_blocked
from ..store import Store, atomic_write_bytes
from ..store.provenance import provenance, start_run
from .executors import Executor, LocalExecutor
from .grid import MAX_POINTS, expand_grid, parse_grid, parse_seeds, sweep_id_for

__all__ = [
    "parse_grid",
    "parse_seeds",
    "expand_grid",
    "sweep_id_for",
    "run_point",
    "run_sweep",
    "SweepSummary",
    "MAX_POINTS",
]


# --------------------------------------------------------------------------- worker side
class _PointContext(DirectoryContext):
    """Directory context that remembers which arrays and figures the experiment saved."""

    def __init__(self, out_dir, seed):
        super().__init__(out_dir, seed=seed)
        self.saved: dict[str, tuple[str, str]] = {}  # name -> (kind, path)

    def save_array(self, name, array):
        path = super().save_array(name, array)
        self.saved[name] = ("array", path)
        return path

    def save_trajectory(self, name, traj):
        path = super().save_trajectory(name, traj)
        self.saved[name] = ("trajectory", path)
        return path

    def save_figure(self, name, fig):
        path = super().save_figure(name, fig)
        self.saved[Path(name).stem] = ("figure", path)
        for beside, file, kind in self.beside:  # a vector figure's PNG preview
            self.saved[beside] = (kind, str(file))
        self.beside.clear()
        return path


def _experiment(task: Mapping[str, Any]):
    try:
        return get_experiment(task["experiment"])
    except ConfigError:  # defined outside wgflow: import its module, by name or from its file
        try:
            importlib.import_module(task["module"])
        except ImportError:
            import_file(task["module"], task["module_file"])
        return get_experiment(task["experiment"])


def run_point(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one point in a temporary directory; return what the driver records (never raises).

    ``task``: experiment, module, module_file, preset, overrides, seed, threads. The result holds
    status (``completed`` | ``failed``), message, claims, metrics (summary), series
    ``[(name, step, value)]``, artifacts ``[(name, kind, file name, bytes)]`` and duration_s.
    """
    t0 = time.monotonic()
    out: dict[str, Any] = {
        "status": "failed",
        "message": None,
        "claims": [],
        "metrics": {},
        "series": [],
        "artifacts": [],
        "host": socket.gethostname(),
    }
    try:
        if task.get("threads"):
            torch.set_num_threads(int(task["threads"]))
        exp = _experiment(task)
        cfg = make_config(exp, task["preset"], task["overrides"])
        with tempfile.TemporaryDirectory(prefix="wgflow-point-") as tmp:
            ctx = _PointContext(tmp, seed=task["seed"])
            with flow_runtime(device=task.get("device")):
                result = exp().run(cfg, ctx)
            files = dict(ctx.saved)
            for key, path in result.artifacts.items():
                if path and Path(path).exists() and all(Path(p) != Path(path) for _, p in files.values()):
                    files[key] = ("figure" if Path(path).suffix.lower() in (".png", ".svg") else "file", path)
            out["artifacts"] = [(k, kind, Path(p).name, Path(p).read_bytes()) for k, (kind, p) in files.items()]
        out.update(
            status="completed",
            claims=[c.to_dict() for c in result.claims],
            metrics={k: float(v) for k, v in result.metrics.items() if _is_number(v)},
            series=[(n, s, v) for n, s, v in ctx.metrics],
        )
    except DivergenceError as e:
        out["message"] = f"diverged: {e}"
    except Exception as e:  # a failing point is recorded, never fatal to the sweep
        out["message"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc(limit=-4)
    out["duration_s"] = time.monotonic() - t0
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


# --------------------------------------------------------------------------- driver side
@dataclass
class SweepSummary:
    """What a sweep did: points in total, skipped (already completed), completed now, failed now."""

    sweep_id: str
    total: int = 0
    skipped: int = 0
    completed: list[str] = field(default_factory=list)  # run ids
    failed: list[tuple[str, dict[str, Any], int, str]] = field(default_factory=list)  # (run_id, overrides, seed, why)
    busy: list[str] = field(default_factory=list)  # run ids still running in another live process

    @property
    def ok(self) -> bool:
        return not self.failed and not self.busy

    def lines(self) -> list[str]:
        out = [
            f"sweep {self.sweep_id}: {self.total} points, {self.skipped} already completed, "
            f"{len(self.completed)} completed now, {len(self.failed)} failed"
            + (f", {len(self.busy)} running elsewhere" if self.busy else "")
        ]
        for rid, ov, seed, why in self.failed:
            point = " ".join(f"{k}={v}" for k, v in ov.items())
            out.append(f"  FAILED {rid} ({point} seed={seed}): {why}")
        return out


def _point_key(config: Mapping[str, Any], seed: int) -> str:
    return json.dumps([config, int(seed)], sort_keys=True, default=str)


def _claim_points(store, exp, points, configs, sid: str, preset: str, summary: SweepSummary) -> list[tuple]:
    """Store rows ``(run_id, overrides, seed)`` of the points still to run: new runs, or earlier
    unfinished ones of the same sweep marked resumed; completed points are skipped (counted in ``summary``)."""
    existing: dict[str, dict[str, Any]] = {}
    for r in sorted(store.runs(sweep_id=sid), key=lambda r: r["status"] == "completed"):
        existing[_point_key(r["config"], r["seed"])] = r  # a completed run wins over a failed one
    rows = []
    origin = provenance()  # one git call for the whole sweep
    host = origin["host"]
    for (ov, seed), cfg in zip(points, configs):
        old = existing.get(_point_key(cfg, seed))
        if old is not None and old["status"] == "completed":
            summary.skipped += 1
            continue
        if old is not None:
            try:
                store.mark_resumed(old["run_id"], host=host)
            except RuntimeError:
                summary.busy.append(old["run_id"])
                continue
            rid = old["run_id"]
        else:
            rid = start_run(store, exp.name, cfg, seed, origin=origin, preset=preset, sweep_id=sid)
        rows.append((rid, ov, seed))
    return rows


def _tasks(
    name: str, exp, preset: str, rows: list[tuple], threads: int | None, device: str | None
) -> list[dict[str, Any]]:
    """What a worker needs to run each claimed point (:func:`run_point`): plain data, no store."""
    module = sys.modules[exp.__module__]
    return [
        {
            "experiment": name,
            "module": exp.__module__,
            "module_file": getattr(module, "__file__", None),
            "preset": preset,
            "overrides": ov,
            "seed": seed,
            "threads": threads,
            "device": device,
        }
        for _, ov, seed in rows
    ]


def run_sweep(
    name: str,
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int] = (0,),
    *,
    preset: str = "quick",
    store=None,
    executor: Executor | None = None,
    sweep_id: str | None = None,
    log=None,
    device: str | None = None,
) -> SweepSummary:
    """Run every point of ``grid`` x ``seeds`` not yet completed in ``store``; record each as a run.

    ``device`` (cpu | cuda | auto) is where each point's flows run; each point's torch threads are the
    executor's ``threads`` (cores / workers for local workers: the workers never oversubscribe).

    Raises :class:`ConfigError` (nothing written) if the experiment, preset or any point's config
    is invalid.
    """

    exp = get_experiment(name)
    points = expand_grid(grid, seeds)
    configs = [config_to_dict(make_config(exp, preset, ov)) for ov, _ in points]  # validate every point first
    if not isinstance(store, Store):  # opened here, so closed here
        with Store.using(store) as opened:
            return run_sweep(
                name,
                grid,
                seeds,
                preset=preset,
                store=opened,
                executor=executor,
                sweep_id=sweep_id,
                log=log,
                device=device,
            )
    executor = executor or LocalExecutor()
    sid = sweep_id or sweep_id_for(name, preset, grid, seeds)
    summary = SweepSummary(sid, total=len(points))
    say = log or (lambda msg: None)

    store.describe_experiment(name, **about(exp))
    rows = _claim_points(store, exp, points, configs, sid, preset, summary)
    threads = getattr(executor, "threads", None)  # torch threads per point (no oversubscription of cores)
    tasks = _tasks(name, exp, preset, rows, threads, device)
    say(f"sweep {sid}: {len(tasks)} of {len(points)} points to run on {getattr(executor, 'name', executor)}")

    _run_tasks(store, executor, tasks, rows, summary, say)
    return summary


def _run_tasks(store, executor, tasks, rows, summary: SweepSummary, say) -> None:
    """Run ``tasks`` on ``executor``, recording each point as it finishes; on an interruption of the
    driver, the unfinished points are marked interrupted (a re-run of the sweep resumes them)."""
    done: set[int] = set()
    try:
        # closing(): on an exception the executor's generator stops its workers at once, not at garbage collection
        with contextlib.closing(executor.map_unordered(run_point, tasks)) as results:
            for i, res in results:
                _record(store, rows[i], res, summary, say)
                done.add(i)
    except BaseException as e:  # interrupted driver: its unfinished points resume on the next run
        why = {KeyboardInterrupt: "SIGINT", Terminated: "SIGTERM"}.get(type(e), type(e).__name__)
        with signals_blocked():
            for i, (rid, _, _) in enumerate(rows):
                if i not in done:
                    store.finish_run(
                        rid,
                        "interrupted",
                        f"sweep driver interrupted ({why}); re-run the sweep to resume its unfinished points",
                    )
        raise


def _record(store, row, res, summary: SweepSummary, say) -> None:
    """The driver's write of one finished point: artifacts, metric series, claims, final status."""
    rid, ov, seed = row
    if isinstance(res, BaseException):
        res = {"status": "failed", "message": str(res), "duration_s": 0.0}
    if res["status"] == "completed":
        for art_name, kind, fname, data in res["artifacts"]:
            path = atomic_write_bytes(store.run_dir(rid) / check_name(fname, "artifact file"), data)
            store.add_artifact(rid, art_name, path, kind=kind)
        store.log_metrics(rid, res["series"])
        store.complete_run(
            rid, res["claims"], [(k, None, v) for k, v in res["metrics"].items()], duration_s=res["duration_s"]
        )
        summary.completed.append(rid)
        say(f"  completed {rid} ({_fmt_point(ov, seed)}) in {res['duration_s']:.1f} s")
    else:
        store.finish_run(rid, "failed", res["message"], duration_s=res["duration_s"])
        summary.failed.append((rid, ov, seed, res["message"]))
        say(f"  FAILED {rid} ({_fmt_point(ov, seed)}): {res['message']}")


def _fmt_point(ov: Mapping[str, Any], seed: int) -> str:
    return " ".join([*(f"{k}={v}" for k, v in ov.items()), f"seed={seed}"])
