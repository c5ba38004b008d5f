"""Array and byte files written atomically (temp file + fsync + rename), read without pickle.

A neutral private module: the core (trajectories) and the store (runs, checkpoints) both write
through it, so the core never imports the store.

A reader never sees a half-written file: the data goes to a temporary file in the
same directory, is flushed to disk, and ``os.replace`` swaps it in (atomic on POSIX).
A process killed mid-write leaves at most a stray ``.tmp`` file, never a torn array.

Names never become paths: :func:`check_name` admits a run, experiment, figure, artifact or
observer name only from a safe set of characters, and :func:`contained` resolves a path (links
included) and requires it to stay inside its folder; both raise :class:`~wgflow.errors.ConfigError`
before anything is written.

:class:`Checkpointer` is the one protocol of what saves and restores a long computation's state
(a dict of such arrays): the flows (``wgflow.flows``) take one, run contexts
(``wgflow.experiments``) hand one out; it lives here so that both import it without torch.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

__all__ = [
    "Checkpointer",
    "atomic_write_bytes",
    "atomic_save_array",
    "array_path",
    "load_array",
    "check_name",
    "contained",
    "inside",
]

# letters, digits and -_.=+, ; no leading dot, no "..": never a separator, a parent or a hidden file
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+,-]{0,127}")


@runtime_checkable
class Checkpointer(Protocol):
    """Saves the full state of a long computation (a flow) every ``every`` steps; ``load()`` returns
    the last saved state, or None when there is none. States are dicts of NumPy arrays (no pickle)."""

    every: int

    def save(self, state: Mapping[str, np.ndarray]) -> None: ...

    def load(self) -> Mapping[str, np.ndarray] | None: ...


def check_name(name: object, what: str) -> str:
    """``name`` if it is safe as one component of a file name, else :class:`ConfigError` naming ``what`` it is."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"{what} {name!r} is not a safe name: use letters, digits and -_.=+, (at most 128 characters, "
            "not starting with a dot, no '..')"
        )
    return name


def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path``, links resolved, lies inside ``root`` (resolved too); a link loop counts as outside."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):
        return False


def contained(path: str | os.PathLike, root: str | os.PathLike, what: str) -> Path:
    """``path`` resolved (links followed), required to lie inside ``root`` (resolved too), else :class:`ConfigError`."""
    if not inside(path, root):
        raise ConfigError(f"{what} {path} leads outside {root}; refused")
    return Path(path).resolve()


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are ordinary files
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return _atomic(Path(path), lambda fh: fh.write(data))


def array_path(path: str | os.PathLike, suffix: str) -> Path:
    """``path`` with the array ``suffix`` (".npy" / ".npz"): an existing .npy/.npz suffix is replaced,
    anything else after a dot is part of the name ("eta-0.5" -> "eta-0.5.npz", not "eta-0.npz")."""
    path = Path(path)
    return path.with_suffix(suffix) if path.suffix in (".npy", ".npz") else path.with_name(path.name + suffix)


def atomic_save_array(path: str | os.PathLike, data: np.ndarray | Mapping[str, np.ndarray]) -> Path:
    """Save one array (``.npy``) or a dict of arrays (``.npz``) atomically, refusing object arrays.

    The suffix is chosen from the data (:func:`array_path`): a mapping always goes to ``.npz``.
    """
    path = Path(path)
    if isinstance(data, Mapping):
        arrays = {k: np.asarray(v) for k, v in data.items()}
        for k, a in arrays.items():
            if a.dtype == object:
                raise TypeError(f"array {k!r} has dtype object; only numbers and strings are stored")
        path = array_path(path, ".npz")
        return _atomic(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle: bool
    a = np.asarray(data)
    if a.dtype == object:
        raise TypeError("arrays of dtype object are not stored (no pickle)")
    path = array_path(path, ".npy")
    return _atomic(path, lambda fh: np.save(fh, a, allow_pickle=False))


def load_array(path: str | os.PathLike) -> np.ndarray | dict[str, np.ndarray]:
    """Load a ``.npy`` array or a ``.npz`` dict of arrays with ``allow_pickle=False``."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    return np.load(path, allow_pickle=False)
