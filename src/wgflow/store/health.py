"""Health of a store: SQLite errors explained in one line, integrity checks, stale process ids."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["StoreError", "explain", "check", "is_wgflow_process", "run_is_alive"]


class StoreError(RuntimeError):
    """The store's database cannot be used (damaged, locked, unreadable); the message names it and what to do."""


def explain(db_path: Path, e: sqlite3.Error) -> str:
    text = str(e).replace("\n", " ")
    if isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return f"store {db_path} is locked by another process ({text}); wait for it and try again"
    if isinstance(e, sqlite3.OperationalError) and "unable to open" in text:
        return f"cannot open store {db_path} ({text}); check the path and its permissions"
    return (
        f"store {db_path} is damaged or unreadable ({type(e).__name__}: {text}); check it with "
        f"`wgflow runs --check --store {db_path.parent}`, then restore a backup or move the folder aside"
    )


def run_is_alive(run: Mapping[str, Any]) -> bool:
    """Whether a ``running`` run's process still exists (always True for runs of another host)."""
    if run["status"] != "running":
        return False
    if not run.get("pid") or run.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(run["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_wgflow_process(pid: int) -> bool:
    """Whether process ``pid`` runs wgflow; True when that cannot be told (no ``/proc``).

    Its arguments must name it: the ``wgflow`` console script, ``-m wgflow.cli`` or ``-c`` code
    importing wgflow. The interpreter's own path is ignored (a virtualenv may live in a folder named wgflow).
    """
    try:
        argv = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")[1:]
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (not Linux): assume it may be ours
    except OSError:
        return True
    return any(
        os.path.basename(a) == b"wgflow" or a.startswith(b"wgflow.") or b"import wgflow" in a or b"from wgflow" in a
        for a in argv
    )


def check(store: Any) -> list[str]:
    """Problems of the store, one line each (empty: healthy).

    ``PRAGMA integrity_check`` and ``foreign_key_check`` on the database, then every file a
    run's artifacts refer to must exist with its recorded size.
    """
    problems = [f"database: {r[0]}" for r in store._query("PRAGMA integrity_check") if r[0] != "ok"]
    problems += [
        f"database: row {r[1]} of {r[0]} refers to a missing {r[2]} row"
        for r in store._query("PRAGMA foreign_key_check")
    ]
    for r in store._query("SELECT run_id, name, path, bytes FROM artifacts ORDER BY run_id, name"):
        p = Path(r["path"]) if Path(r["path"]).is_absolute() else store.root / r["path"]
        if not p.is_file():
            problems.append(f"run {r['run_id']}: artifact {r['name']!r} is missing ({p})")
        elif r["bytes"] is not None and p.stat().st_size != r["bytes"]:
            problems.append(
                f"run {r['run_id']}: artifact {r['name']!r} has {p.stat().st_size} bytes, {r['bytes']} recorded ({p})"
            )
    return problems
