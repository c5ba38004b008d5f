"""Run contexts: everything an experiment may ask of the machinery that runs it.

:class:`RunContext` is the protocol; :class:`DirectoryContext` implements it over a plain
directory (tests, scripts); ``wgflow.harness.store_context.StoreContext`` over the run store.
Stages and checkpoints are ``.npz`` files written atomically and read without pickle.
"""

from __future__ import annotations

import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .._io import (
    Checkpointer,  # one protocol with wgflow.flows (torch-free)
    atomic_save_array,
    check_name,
    contained,
    load_array,
)
from ..plotting import figures
from ..plotting.verdicts import bind_claims, bound_claims, state_verdicts

__all__ = ["Checkpointer", "RunContext", "DirectoryContext", "save_stage", "load_stage", "safe_key"]


class RunContext(Protocol):
    """Everything an experiment may ask of the machinery that runs it."""

    seed: int
    out_dir: Path

    def log(self, msg: str) -> None: ...

    def progress(self, iterable: Iterable | None = None, total: int | None = None, desc: str | None = None): ...

    def log_metric(self, name: str, value: float, step: int | None = None) -> None: ...

    def save_array(self, name: str, array: np.ndarray) -> str: ...

    def save_figure(self, name: str, fig: Any) -> str: ...

    def save_trajectory(self, name: str, traj: Any) -> str: ...

    def stage(self, key: str, fn: Callable[[], Mapping[str, Any]]) -> dict[str, Any]: ...

    def checkpointer(self, key: str) -> Checkpointer | None: ...


class _NullBar:
    def __init__(self, iterable=None, total=None):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *a, **k) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".gif", ".mp4")


class DirectoryContext:
    """A run context writing into a plain directory, without a database.

    Used by tests and by library users who call :func:`run_experiment`
    directly. Stages are memoised as ``.npz`` files (no pickle), so calling
    the same experiment twice in the same directory resumes it;
    :func:`~wgflow.harness.run.run_experiment` records the owner in
    ``run.json`` and refuses a directory of another experiment, config or seed.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        seed: int = 0,
        verbose: bool = False,
        figure_format: str | None = None,
        dpi: int | None = None,
        figure_style: str | None = None,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.seed = int(seed)
        self.verbose = verbose
        # png / pdf / svg and the dpi: the arguments, else $WGFLOW_FIGURE_FORMAT / $WGFLOW_FIGURE_DPI
        self.figure_format, self.dpi = figures.figure_settings(figure_format, dpi)
        # report: verdicts in titles; paper: in captions (<stem>.caption.txt); the argument, else $WGFLOW_FIGURE_STYLE
        self.figure_style = figures.figure_style(figure_style)
        # files written beside figures since the last look, (name, path, kind): PNG previews, captions
        self.beside: list[tuple[str, Path, str]] = []
        self.metrics: list[tuple[str, int | None, float]] = []
        # figure name -> claims its title states; None: nobody judges this run's claims (no verdicts to state)
        self.figure_claims: dict[str, tuple[str, ...]] | None = None
        self._bound: dict[str, tuple[Any, Path]] = {}  # figures saved before their claims were judged

    def log(self, msg: str) -> None:
        if self.verbose:
            print(msg, flush=True)

    def progress(self, iterable=None, total=None, desc=None):
        return _NullBar(iterable, total)

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        self.metrics.append((name, step, float(value)))

    def save_array(self, name: str, array: np.ndarray) -> str:
        return str(atomic_save_array(self.file(name, ".npy", "array name"), np.asarray(array)))

    def save_trajectory(self, name: str, traj: Any) -> str:
        """Save a :class:`~wgflow.flows.Trajectory` as ``<name>.npz`` (its own format, no pickle:
        :meth:`~wgflow.flows.Trajectory.load` or :func:`wgflow.interop.load_trajectory` read it back)."""
        return traj.save(self.file(name, ".npz", "trajectory name"))

    def file(self, name: str, suffix: str, what: str) -> Path:
        """``<out_dir>/<name><suffix>`` for a safe ``name`` (:func:`~wgflow._io.check_name`) that stays in the
        folder (no link out of it); else :class:`~wgflow.errors.ConfigError`, before anything is written."""
        path = self.out_dir / (check_name(name, what) + suffix)
        contained(path, self.out_dir, what)
        return path

    def save_figure(self, name: str, fig: Any) -> str:
        """Save a matplotlib figure in the style of :mod:`wgflow.plotting.figures` (``name`` without a suffix takes
        the context's format), or call ``fig(path)`` for an animation writer (``name`` with its suffix).

        In a run whose claims will be judged (``figure_claims`` set, by
        :func:`~wgflow.harness.run.run_and_judge`) a figure bound to claims (by the experiment's
        ``captions`` or by the figure code, :func:`wgflow.plotting.verdicts.bind_claims`) stays open and is
        saved again with their verdicts in its title by :meth:`judge_figures`. A PDF or SVG figure gets a PNG
        preview beside it (``<stem>.png``)."""
        given = Path(check_name(name, "figure name")).suffix
        stem, suffix = (name[: -len(given)], given) if given.lower() in _FIGURE_SUFFIXES else (name, "")
        suffix = suffix or f".{self.figure_format}"  # keys may hold dots ("tau-0.5"): not a suffix
        path = self.file(stem, suffix, "figure name")
        if not hasattr(fig, "savefig"):  # a callable writing to a path (animations)
            tmp = self.out_dir / (stem + ".tmp" + suffix)
            fig(tmp)
            os.replace(tmp, path)
        elif self.figure_claims is not None and (stem in self.figure_claims or bound_claims(fig)):
            bind_claims(fig, self.figure_claims.get(stem) or bound_claims(fig))
            self._bound[stem] = (fig, path)
            self._write(fig, stem, path, close=False)  # the file exists even if the run stops before its claims
        else:
            self._write(fig, stem, path)
        return str(path)

    def judge_figures(self, claims: Iterable[Any]) -> None:
        """State the verdicts of the judged ``claims`` in the titles of the bound figures (``paper`` style: in
        their captions, ``<stem>.caption.txt``); save them again."""
        claims = list(claims)
        for stem, (fig, path) in self._bound.items():
            verdicts = state_verdicts(fig, claims, self.figure_style)
            self._write(fig, stem, path)
            if self.figure_style == "paper" and verdicts:
                caption = self.file(stem, ".caption.txt", "figure name")
                tmp = caption.with_name(f"{caption.name}.tmp")
                tmp.write_text(verdicts + "\n", encoding="utf-8")
                os.replace(tmp, caption)
                self.beside.append((f"{stem}.caption", caption, "caption"))
        self._bound.clear()

    def _write(self, fig: Any, stem: str, path: Path, close: bool = True) -> None:
        tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
        figures.save(fig, tmp, dpi=self.dpi)
        if path.suffix.lstrip(".").lower() in figures.PREVIEWED:  # a PNG a browser shows, beside the vector file
            preview = self.file(stem, ".png", "figure name")
            ptmp = preview.with_name(f"{preview.stem}.tmp.png")
            figures.save(fig, ptmp, dpi=self.dpi)
            os.replace(ptmp, preview)
            self.beside.append((f"{stem}.preview", preview, "preview"))
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        os.replace(tmp, path)

    def stage(self, key: str, fn: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        path = contained(self.out_dir / "stages" / f"{safe_key(key)}.npz", self.out_dir, "stage")
        if path.exists():
            try:
                return load_stage(path)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:  # torn or damaged file
                aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
                os.replace(path, aside)
                print(
                    f"stage {path} is damaged ({type(e).__name__}: {e}); set aside as {aside.name}, computing it again",
                    file=sys.stderr,
                    flush=True,
                )
        out = dict(fn())
        save_stage(path, out)
        return out

    def checkpointer(self, key: str) -> Checkpointer | None:
        return None


def safe_key(key: str) -> str:
    """``key`` as a file-name stem: characters other than letters, digits and ``-_.=`` become ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in key)


def save_stage(path: Path, data: Mapping[str, Any]) -> None:
    """Write a dict of arrays / scalars / strings as ``.npz`` atomically (no pickle)."""
    atomic_save_array(path, dict(data))


def load_stage(path: Path) -> dict[str, Any]:
    """Read a stage written by :func:`save_stage`; 0-d arrays come back as Python scalars."""
    stage = load_array(path)
    if not isinstance(stage, dict):
        raise ValueError(f"{path}: a stage is a .npz dict of arrays, not a single array")
    return {k: a.item() if a.ndim == 0 else a for k, a in stage.items()}
