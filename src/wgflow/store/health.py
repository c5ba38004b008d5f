"""Health of a store: SQLite errors explained in one line, integrity checks, stale process ids."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import inside

__all__ = ["StoreError", "explain", "check", "is_wgflow_process", "run_is_alive", "sha256"]


class StoreError(RuntimeError):
    """The store's database cannot be used (damaged, locked, unreadable); the message names it and what to do."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def explain(db_path: Path, e: sqlite3.Error) -> str:
    text = str(e).replace("\n", " ")
    if isinstance(e, sqlite3.OperationalError) and "disk is full" in text:
        return f"store {db_path} cannot grow: the disk is full ({text}); free space, then resume the run"
    if isinstance(e, sqlite3.OperationalError) and "readonly" in text:
        return f"store {db_path} is read-only ({text}); name a writable folder for --store"
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

    ``PRAGMA integrity_check`` and ``foreign_key_check`` on the database; every file a run's
    artifacts refer to must be a regular file inside the run's folder with its recorded size and
    SHA-256; no link in a run folder may lead out of the store; every completed run has a folder
    and every folder under ``runs/`` a run.
    """
    problems = [f"database: {r[0]}" for r in store._query("PRAGMA integrity_check") if r[0] != "ok"]
    problems += [
        f"database: row {r[1]} of {r[0]} refers to a missing {r[2]} row"
        for r in store._query("PRAGMA foreign_key_check")
    ]
    root = store.root.resolve()
    named: set[Path] = set()  # artifacts already reported as links: not named again by the walk below
    for r in store._query("SELECT * FROM artifacts ORDER BY run_id, name"):
        p = Path(r["path"]) if Path(r["path"]).is_absolute() else store.root / r["path"]
        where = f"run {r['run_id']}: artifact {r['name']!r}"
        if p.is_symlink() or not inside(p, root):
            named.add(p)
            problems.append(f"{where} is a link or a path out of the store's files ({p}); the report refuses it")
        elif not p.is_file():
            problems.append(f"{where} is missing ({p})")
        elif r["bytes"] is not None and p.stat().st_size != r["bytes"]:
            problems.append(f"{where} has {p.stat().st_size} bytes, {r['bytes']} recorded ({p})")
        elif r["sha256"] is not None and sha256(p) != r["sha256"]:
            problems.append(f"{where} does not match its recorded SHA-256 (changed since it was written) ({p})")
    runs = {r["run_id"]: r["status"] for r in store._query("SELECT run_id, status FROM runs")}
    folders = store.root / "runs"
    present = {p.name for p in folders.iterdir()} if folders.is_dir() else set()
    problems += [
        f"run {rid}: completed but its folder {folders / rid} is missing"
        for rid, status in sorted(runs.items())
        if status == "completed" and rid not in present and _has_artifacts(store, rid)
    ]
    problems += [f"folder {folders / name} belongs to no run of the database" for name in sorted(present - set(runs))]
    for name in sorted(present & set(runs)):
        for dirpath, dirnames, filenames in os.walk(folders / name):
            for entry in (*dirnames, *filenames):
                p = Path(dirpath) / entry
                if p.is_symlink() and p not in named and not inside(p, root):
                    problems.append(f"run {name}: {p} is a link leading out of the store")
    return problems


def _has_artifacts(store: Any, run_id: str) -> bool:
    return bool(store._query("SELECT 1 FROM artifacts WHERE run_id = ? LIMIT 1", (run_id,)))
