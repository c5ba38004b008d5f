"""The store-backed run context: checkpoints with two generations, the run's log, progress and files.

:class:`StoreContext` is the :class:`~wgflow.harness.context.RunContext` that
:func:`wgflow.harness.runner.execute` hands to an experiment; :class:`StoreCheckpointer`
keeps a flow's checkpoint and the one before it, and sets a damaged file aside.
"""

from __future__ import annotations

import os
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._io import array_path, contained
from ..store import Store, atomic_save_array, load_array
from .context import DirectoryContext, safe_key

__all__ = ["StoreContext", "StoreCheckpointer", "on_checkpoint_saved"]

# Hook called with the number of checkpoints saved so far by this process (tests set it to kill the
# process in the middle of a flow, to test resuming; None in normal use).
on_checkpoint_saved: Callable[[int], None] | None = None
DEFAULT_CHECKPOINT_EVERY = 200
_UNREADABLE = (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError)  # what np.load raises on a torn file


class StoreCheckpointer:
    """Checkpoint of one flow: ``save(state)`` every ``every`` steps, ``load()`` at start.

    The state (a dict of arrays) is one ``.npz`` written atomically; the last two generations
    are kept (``<key>.npz`` and ``<key>.prev.npz``). :meth:`load` takes the newest readable one;
    an unreadable one (a disk fault, a truncated copy) is set aside as
    ``<key>.npz.damaged-<unix time>`` and named in the log.
    """

    def __init__(
        self,
        path: Path,
        every: int,
        on_save: Callable[[], None] | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.path = array_path(path, ".npz")  # keys may hold dots ("eta-0.5"): not a suffix
        self.prev = self.path.with_name(self.path.stem + ".prev.npz")
        self._next = self.path.with_name(self.path.stem + ".next.npz")
        self.every = int(every)
        self._on_save = on_save
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def save(self, state: Mapping[str, np.ndarray]) -> None:
        atomic_save_array(self._next, {k: np.asarray(v) for k, v in state.items()})
        if self.path.exists():
            os.replace(self.path, self.prev)
        os.replace(self._next, self.path)
        if self._on_save is not None:
            self._on_save()

    def load(self) -> dict[str, np.ndarray] | None:
        damaged = False
        for p in (self._next, self.path, self.prev):  # newest first (.next exists only after a kill mid-save)
            if not p.exists():
                continue
            contained(p, self.path.parent, "checkpoint")  # a link out of the run is never read
            try:
                return self._read(p, damaged)
            except _UNREADABLE as e:
                aside = p.with_name(f"{p.name}.damaged-{int(time.time())}")
                os.replace(p, aside)
                self._log(f"checkpoint {p} is damaged ({type(e).__name__}: {e}); set aside as {aside.name}")
                damaged = True
        if damaged:
            self._log(f"no readable checkpoint of {self.path.stem} left: this flow starts again from step 0")
        return None

    def _read(self, p: Path, after_damage: bool) -> dict[str, np.ndarray]:
        state = load_array(p)
        if after_damage:
            self._log(f"resuming from the previous checkpoint {p.name}")
        return state  # type: ignore[return-value]  # checkpoints are .npz files, which load_array reads as dicts


class StoreContext(DirectoryContext):
    """RunContext writing into ``<store>/runs/<run_id>/`` and recording metrics and artifacts in the store."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        seed: int,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        show_progress: bool | None = None,
        quiet: bool = False,
    ):
        super().__init__(store.run_dir(run_id), seed=seed, verbose=not quiet)
        self.store, self.run_id = store, run_id
        self.checkpoint_every = int(checkpoint_every)
        # progress shows on a terminal and in a notebook (tqdm.auto draws a widget there), not in logs
        self.show_progress = (sys.stderr.isatty() or _in_notebook()) if show_progress is None else show_progress
        self._saves = 0

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[{self.run_id}] {msg}", file=sys.stderr, flush=True)

    def progress(self, iterable=None, total=None, desc=None):
        from tqdm.auto import tqdm  # a text bar on a terminal, a widget in a notebook

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            disable=not self.show_progress,
        )

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        super().log_metric(name, value, step)
        self.store.log_metrics(self.run_id, [(name, step, value)])

    def save_array(self, name: str, array: np.ndarray) -> str:
        path = str(atomic_save_array(self.file(name, "", "array name"), np.asarray(array)))
        self.store.add_artifact(self.run_id, name, path, kind="array")
        return path

    def save_trajectory(self, name: str, traj: Any) -> str:
        path = super().save_trajectory(name, traj)
        self.store.add_artifact(self.run_id, name, path, kind="trajectory")
        return path

    def save_figure(self, name: str, fig: Any) -> str:
        path = super().save_figure(name, fig)
        self.store.add_artifact(self.run_id, Path(name).stem, path, kind="figure")
        self._record_beside()
        return path

    def judge_figures(self, claims) -> None:
        """As :meth:`DirectoryContext.judge_figures`; the figures saved again are recorded again, so the
        store holds the size and checksum of their final form (what `wgflow runs --check` verifies), with their
        PNG previews (kind ``preview``) and, in the ``paper`` style, their captions (kind ``caption``)."""
        final = {stem: path for stem, (_, path) in self._bound.items()}
        super().judge_figures(claims)
        for stem, path in final.items():
            self.store.add_artifact(self.run_id, stem, path, kind="figure")
        self._record_beside()

    def _record_beside(self) -> None:
        """Record the PNG previews and captions written beside figures, in their final form."""
        for name, path, kind in self.beside:
            self.store.add_artifact(self.run_id, name, path, kind=kind)
        self.beside.clear()

    def checkpointer(self, key: str) -> StoreCheckpointer:
        return StoreCheckpointer(
            contained(self.out_dir / "checkpoints" / safe_key(key), self.out_dir, "checkpoint"),
            self.checkpoint_every,
            self._saved,
            log=lambda msg: print(f"[{self.run_id}] {msg}", file=sys.stderr, flush=True),
        )

    def _saved(self) -> None:
        self._saves += 1
        if on_checkpoint_saved is not None:
            on_checkpoint_saved(self._saves)


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (its stderr is not a terminal, yet a progress bar belongs there)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"
