"""Where a store lives: its folder checked before it opens, and the connection to its database.

:func:`check_place` refuses a ``--store`` that is no folder or cannot be written (a usage error), and a
database lost beside run folders (damage: never replaced by an empty one), before anything is written;
:func:`connect` opens the database read-write, or read-only for an intact store that cannot be written
(a read-only mount, a folder of another user), which ``wgflow runs`` and ``wgflow report`` can still read.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .health import StoreError

__all__ = ["check_place", "connect"]


def check_place(root: Path, db_path: Path, *, create: bool) -> bool:
    """Whether the store at ``root`` must open read-only; raises before anything is written.

    :class:`~wgflow.errors.ConfigError` (a usage error: the wrong ``--store``) when ``root`` is not a
    folder (a file, a device), cannot be created, or is not writable while ``create`` (a command that
    writes); FileNotFoundError when there is no store and ``create`` is False; :class:`StoreError` when
    the database is not a file, or is missing or empty beside run folders (its record is lost: never
    replaced by an empty one). An intact store that cannot be written opens read-only when not ``create``.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"store {root} is not a folder (a file or a device); name a folder for --store")
    if db_path.exists() and not db_path.is_file():
        raise StoreError(
            f"store {root}: {db_path.name} is not a file; move it aside and restore the database from a backup"
        )
    has_db = db_path.is_file() and db_path.stat().st_size > 0
    if not has_db:
        runs = root / "runs"
        n = sum(1 for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else 0
        if n:
            state = "empty" if db_path.exists() else "missing"
            raise StoreError(
                f"store {root} holds {n} run folder(s) but its database {db_path} is {state}: the record of "
                f"those runs is lost; restore {db_path.name} from a backup (nothing was changed)"
            )
        if not create:
            raise FileNotFoundError(f"there is no store at {root}")
    if create and not root.exists():
        try:
            root.mkdir(parents=True)
        except OSError as e:
            raise ConfigError(
                f"cannot create store folder {root} ({e.strerror or e}); name a writable folder for --store"
            ) from None
    writable = os.access(root, os.W_OK | os.X_OK) and (not db_path.exists() or os.access(db_path, os.W_OK))
    if create and not writable:
        raise ConfigError(
            f"store {root} is read-only; name a writable folder for --store (`wgflow runs` and "
            "`wgflow report --out FILE` read it as it is)"
        )
    return not writable


def connect(db_path: Path, timeout: float, *, readonly: bool) -> sqlite3.Connection:
    """A connection with the store's settings; read-only (``mode=ro``) when ``readonly``, ``immutable`` when
    even WAL's shared-memory file cannot be created beside the database (a read-only mount)."""
    kw: dict[str, Any] = {"timeout": timeout, "isolation_level": None, "check_same_thread": False}
    if not readonly:
        conn = sqlite3.connect(db_path, **kw)
    else:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, **kw)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro&immutable=1", uri=True, **kw)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        # WAL: readers never block the writer; NORMAL sync is durable across process crashes
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn
