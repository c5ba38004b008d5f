"""What ``wgflow reproduce`` tells the user while it works: overall progress, heartbeats, estimates.

* :func:`progress_line`: ``experiment 3/11 consistency (quick): 4 min 10 s elapsed, about 6 min left``;
* :class:`Heartbeat`: while one experiment runs and stderr is not a terminal (a log file, CI), a line
  every ``every`` seconds, so a piped run never looks hung (on a terminal the flows' bars show it);
* :func:`estimate_left`: the remaining time from the store's previous runs of the same experiment and
  preset, else the mean time of the experiments done so far.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..report.numbers import fmt_duration

__all__ = ["progress_line", "estimate_left", "Heartbeat", "previous_durations"]


def previous_durations(runs: Sequence[dict[str, Any]], preset: str, untrained: bool = False) -> dict[str, float]:
    """Wall time of the latest completed run of each experiment with ``preset`` (runs newest first or not).

    Negative-control runs (``untrained``) take no training step, so they only estimate each other.
    """
    out: dict[str, tuple[float, float]] = {}
    for r in runs:
        if (
            r.get("status") == "completed"
            and r.get("preset") == preset
            and not r.get("sweep_id")
            and bool(r.get("untrained")) == untrained
        ):
            t = r.get("started_at") or 0.0
            if r["experiment"] not in out or t > out[r["experiment"]][0]:
                out[r["experiment"]] = (t, float(r.get("duration_s") or 0.0))
    return {k: v[1] for k, v in out.items()}


def estimate_left(remaining: Sequence[str], known: dict[str, float], done: Sequence[float]) -> float | None:
    """Seconds left for ``remaining`` experiments: their known durations, the mean of ``done`` for the others."""
    mean = sum(done) / len(done) if done else None
    total = 0.0
    for name in remaining:
        if name in known:
            total += known[name]
        elif mean is not None:
            total += mean
        else:
            return None
    return total


def progress_line(i: int, n: int, name: str, preset: str, elapsed: float, left: float | None) -> str:
    est = "estimate after the first experiment" if left is None else f"about {fmt_duration(left)} left"
    return f"wgflow: experiment {i}/{n} {name} ({preset}): {fmt_duration(elapsed)} elapsed, {est}"


class Heartbeat:
    """A background thread printing ``still running NAME, T elapsed`` every ``every`` s while the block runs.

    Silent when ``stream`` is a terminal unless ``force``.
    """

    def __init__(self, label: str, every: float = 60.0, stream: TextIO | None = None, force: bool = False):
        self.label, self.every = label, float(every)
        self.stream = stream or sys.stderr
        self.enabled = force or not _isatty(self.stream)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _beat(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(self.every):
            print(
                f"wgflow: still running {self.label}, {fmt_duration(time.monotonic() - t0)} elapsed",
                file=self.stream,
                flush=True,
            )

    def __enter__(self):
        if self.enabled:
            self._thread = threading.Thread(target=self._beat, name="wgflow-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
