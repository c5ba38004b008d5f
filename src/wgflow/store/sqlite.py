"""SQLite store of experiment runs.

Layout of a store directory (default ``./wgflow-runs``, or ``$WGFLOW_STORE``)::

    wgflow.db            runs, metrics, claims, artifacts, experiments (WAL journal)
    runs/<run_id>/       figures, arrays, stages and checkpoints of one run

Concurrency: every connection sets ``busy_timeout`` and every write is one
``BEGIN IMMEDIATE`` transaction, so two processes writing the same store wait for
each other's write lock instead of failing, and WAL lets readers run alongside.
The schema is versioned (table ``schema_version``); its migrations, applied in order,
each in its own transaction, when a store is opened, are in :mod:`wgflow.store.tables`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._io import check_name, contained
from .health import StoreError, explain, is_wgflow_process, run_is_alive, sha256
from .health import check as check_store
from .place import check_place, connect
from .tables import (
    DB_NAME,
    MIGRATIONS,
    RUN_STATUSES,
    SCHEMA_VERSION,
    read_claim,
    to_json,
    write_claims,
    write_experiment,
    write_metrics,
    write_status,
)

__all__ = ["Store", "StoreError", "default_store_path", "new_run_id", "RUN_STATUSES", "SCHEMA_VERSION", "MIGRATIONS"]


def default_store_path() -> Path:
    """``$WGFLOW_STORE`` if set, else ``./wgflow-runs``."""
    return Path(os.environ.get("WGFLOW_STORE") or "wgflow-runs")


def new_run_id(experiment: str, now: float | None = None) -> str:
    """Short unique id: initials of the experiment, UTC time, 4 random hex digits (``ts-20261123-052712-ab12``)."""
    initials = "".join(part[0] for part in experiment.replace("_", "-").split("-") if part) or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    return f"{initials.lower()}-{stamp}-{secrets.token_hex(2)}"


class Store:
    """A store directory holding ``wgflow.db`` and the run directories.

    ``path`` is the directory, or a file ending in ``.db``/``.sqlite`` whose parent becomes the
    directory. Opening creates and migrates the database if needed; with ``create=False`` a missing
    database raises FileNotFoundError and nothing is created, and a store that cannot be written opens
    read-only (``readonly``). A path that is no folder, or cannot be written when ``create``, is a
    :class:`~wgflow.errors.ConfigError`; a database lost beside run folders a :class:`StoreError`
    (:func:`~wgflow.store.place.check_place`). Any SQLite error (but a constraint) becomes a
    :class:`StoreError` naming the database and the remedy.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 60.0, create: bool = True):
        # Absolute from the start: artifact paths handed back by run contexts must not depend on the cwd.
        p = (Path(path) if path is not None else default_store_path()).expanduser().absolute()
        if p.suffix in (".db", ".sqlite", ".sqlite3"):
            self.root, self.db_path = p.parent, p
        else:
            self.root, self.db_path = p, p / DB_NAME
        self.readonly = check_place(self.root, self.db_path, create=create)
        self.timeout = timeout
        with self._guard():
            self._conn = connect(self.db_path, timeout, readonly=self.readonly)
            if not self.readonly:
                self._migrate()
            elif self.schema_version != len(MIGRATIONS):
                raise StoreError(
                    f"store {self.root} is read-only and has schema {self.schema_version}, not {len(MIGRATIONS)} "
                    "of this wgflow; open it once where it can be written (it is migrated then)"
                )

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:  # a constraint: the caller's business (e.g. a run id taken)
            raise
        except sqlite3.Error as e:
            raise StoreError(explain(self.db_path, e)) from e

    def close(self) -> None:
        self._conn.close()

    @staticmethod
    @contextlib.contextmanager
    def using(store: Store | str | os.PathLike | None) -> Iterator[Store]:
        """``store`` itself if it is a :class:`Store` (left open: the caller's), else the store at that path
        (or the default), opened for the ``with`` block and closed after it."""
        if isinstance(store, Store):
            yield store
        else:
            with Store(store) as opened:
                yield opened

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; takes the write lock at once (``BEGIN IMMEDIATE``)."""
        with self._guard():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._guard():
            return self._conn.execute(sql, tuple(args)).fetchall()

    def check(self) -> list[str]:
        """Problems of the store, one line each (empty: healthy); see :func:`wgflow.store.health.check`."""
        return check_store(self)

    @property
    def schema_version(self) -> int:
        row = self._query("SELECT max(version) AS v FROM schema_version")
        return int(row[0]["v"] or 0)

    def _migrate(self) -> None:
        with self.transaction() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL)")
        while True:
            with self.transaction() as c:  # re-read inside the lock: another process may have migrated
                v = c.execute("SELECT ifnull(max(version), 0) FROM schema_version").fetchone()[0]
                if v >= len(MIGRATIONS):
                    if v > len(MIGRATIONS):
                        raise RuntimeError(
                            f"store {self.root} has schema {v}, newer than this wgflow "
                            f"({len(MIGRATIONS)}); upgrade wgflow"
                        )
                    return
                for stmt in MIGRATIONS[v].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute("INSERT INTO schema_version VALUES (?, ?)", (v + 1, time.time()))

    # ------------------------------------------------------------------ runs
    def run_dir(self, run_id: str) -> Path:
        """Directory of a run's files (not created); ``run_id`` must be a safe name (:func:`~wgflow._io.check_name`)."""
        return self.root / "runs" / check_name(run_id, "run id")

    def create_run(
        self,
        experiment: str,
        config: Mapping[str, Any],
        seed: int,
        *,
        preset: str | None = None,
        versions: Mapping[str, Any] | None = None,
        git_rev: str | None = None,
        host: str | None = None,
        sweep_id: str | None = None,
        run_id: str | None = None,
        untrained: bool = False,
    ) -> str:
        """Insert a run with status ``running``; returns its id (``untrained``: a negative-control run)."""
        check_name(experiment, "experiment name")
        for _ in range(20):
            rid = check_name(run_id, "run id") if run_id is not None else new_run_id(experiment)
            try:
                with self.transaction() as c:
                    c.execute(
                        "INSERT INTO runs (run_id, experiment, preset, seed, config, status, started_at, versions,"
                        " git_rev, host, sweep_id, pid, untrained) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                        (
                            rid,
                            experiment,
                            preset,
                            int(seed),
                            to_json(dict(config)),
                            time.time(),
                            to_json(dict(versions or {})),
                            git_rev,
                            host,
                            sweep_id,
                            os.getpid(),
                            int(bool(untrained)),
                        ),
                    )
                return rid
            except sqlite3.IntegrityError:
                if run_id is not None:
                    raise ValueError(f"run {run_id!r} already exists") from None
        raise RuntimeError("could not find a free run id")

    def mark_resumed(self, run_id: str, host: str | None = None, *, force: bool = False) -> None:
        """Status back to ``running`` for another attempt by this process.

        Raises RuntimeError if the run is still alive in another process of this host, unless
        ``force`` and that process is not a wgflow process (its id was reused after a crash).
        """
        with self.transaction() as c:
            row = c.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run {run_id!r} in store {self.root}")
            if self.is_alive(dict(row)) and row["pid"] != os.getpid():
                stale = row["host"] == socket.gethostname() and not is_wgflow_process(row["pid"])
                if not (force and stale):
                    hint = (
                        "; that process is not wgflow (its id was reused): add --force to take the run over"
                        if stale
                        else "; stop it first"
                    )
                    raise RuntimeError(f"run {run_id!r} is still running (process {row['pid']} on {row['host']}){hint}")
            c.execute(
                "UPDATE runs SET status = 'running', message = NULL, ended_at = NULL, resumed_at = ?,"
                " attempts = attempts + 1, pid = ?, host = ifnull(?, host) WHERE run_id = ?",
                (time.time(), os.getpid(), host, run_id),
            )

    is_alive = staticmethod(run_is_alive)

    def finish_run(self, run_id: str, status: str, message: str | None = None, *, duration_s: float = 0.0) -> None:
        """Set the final status of an attempt and add its wall time."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
        with self.transaction() as c:
            write_status(c, run_id, status, message, duration_s)

    def complete_run(
        self,
        run_id: str,
        claims: Iterable[Mapping[str, Any]],
        metrics: Iterable[tuple[str, int | None, float]],
        *,
        duration_s: float = 0.0,
    ) -> None:
        """Claims, summary metrics and status ``completed`` in one transaction: all or nothing."""
        claims, metrics = list(claims), list(metrics)
        with self.transaction() as c:
            write_claims(c, run_id, claims)
            write_metrics(c, run_id, metrics)
            write_status(c, run_id, "completed", None, duration_s)

    def get_run(self, run_id: str) -> dict[str, Any]:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise KeyError(f"no run {run_id!r} in store {self.root}")
        return self._run_dict(rows[0])

    def runs(self, experiment: str | None = None, *, sweep_id: str | None = None) -> list[dict[str, Any]]:
        """All runs, newest first, with claim counts (``n_claims``, ``n_passed``, ``n_evidence``)."""
        sql = (
            "SELECT r.*, (SELECT count(*) FROM claims c WHERE c.run_id = r.run_id) AS n_claims,"
            " (SELECT ifnull(sum(passed), 0) FROM claims c WHERE c.run_id = r.run_id) AS n_passed,"
            " (SELECT ifnull(sum(evidence), 0) FROM claims c WHERE c.run_id = r.run_id) AS n_evidence"
            " FROM runs r WHERE 1 = 1"
        )
        args: list[Any] = []
        if experiment is not None:
            sql += " AND experiment = ?"
            args.append(experiment)
        if sweep_id is not None:
            sql += " AND sweep_id = ?"
            args.append(sweep_id)
        return [self._run_dict(r) for r in self._query(sql + " ORDER BY started_at DESC, rowid DESC", args)]

    def latest_runs(self, *, untrained: bool = False) -> dict[str, dict[str, Any]]:
        """Per experiment, the newest completed run (or the newest run if none completed).

        Trained runs by default; ``untrained=True`` gives the latest negative-control runs.
        """
        out: dict[str, dict[str, Any]] = {}
        for r in self.runs():
            if bool(r.get("untrained")) != untrained:
                continue
            cur = out.get(r["experiment"])
            if cur is None or (cur["status"] != "completed" and r["status"] == "completed"):
                out[r["experiment"]] = r
        return dict(sorted(out.items()))

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["config"] = json.loads(d["config"])
        d["versions"] = json.loads(d["versions"])
        return d

    # ------------------------------------------------------------------ experiments
    def describe_experiment(
        self,
        name: str,
        *,
        title: str | None = None,
        description: str | None = None,
        reference: str | None = None,
        captions: Mapping[str, str] | None = None,
    ) -> None:
        """Record what the report says about an experiment: its title, description, reference and figure
        captions (artifact name -> the statement the figure shows). The latest record replaces earlier ones."""
        check_name(name, "experiment name")
        with self.transaction() as c:
            write_experiment(c, name, title, description, reference, captions or {})

    def experiment(self, name: str) -> dict[str, Any] | None:
        """The latest :meth:`describe_experiment` record of ``name`` (keys name, title, description,
        reference, captions, recorded_at), or None when none was recorded (runs of an older wgflow)."""
        rows = self._query("SELECT * FROM experiments WHERE name = ?", (name,))
        if not rows:
            return None
        d = dict(rows[0])
        d["captions"] = json.loads(d["captions"])
        return d

    # ------------------------------------------------------------------ metrics
    def log_metrics(self, run_id: str, rows: Iterable[tuple[str, int | None, float]]) -> None:
        """Insert or replace (name, step, value) rows in one transaction (``step=None``: a summary scalar)."""
        rows = list(rows)
        if rows:
            with self.transaction() as c:
                write_metrics(c, run_id, rows)

    def metrics(self, run_id: str, name: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT name, step, value FROM metrics WHERE run_id = ?", [run_id]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        return [dict(r) for r in self._query(sql + " ORDER BY name, step", args)]

    def summary_metrics(self, run_id: str) -> dict[str, float | None]:
        rows = self._query("SELECT name, value FROM metrics WHERE run_id = ? AND step IS NULL ORDER BY name", (run_id,))
        return {r["name"]: r["value"] for r in rows}

    # ------------------------------------------------------------------ claims
    def set_claims(self, run_id: str, claims: Iterable[Mapping[str, Any]]) -> None:
        """Replace the claims of a run (a resumed run re-measures them)."""
        with self.transaction() as c:
            write_claims(c, run_id, claims)

    def claims(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM claims WHERE run_id = ? ORDER BY position", (run_id,))
        return [read_claim(r) for r in rows]

    # ------------------------------------------------------------------ artifacts
    def add_artifact(self, run_id: str, name: str, path: str | os.PathLike, kind: str = "file") -> None:
        """Record a file of the run in its final form, with its size and SHA-256 (``path`` absolute or
        relative to the store directory). ``name`` must be a safe name and ``path`` lie inside the run's
        folder, links resolved (:func:`~wgflow._io.contained`); else :class:`~wgflow.errors.ConfigError`.
        A file rewritten later (a figure given its verdicts) is recorded again."""
        check_name(name, "artifact name")
        p = Path(path)
        full = contained(p if p.is_absolute() else self.root / p, self.run_dir(run_id), "artifact")
        rel = str(full.relative_to(self.root.resolve()))
        size, digest = (full.stat().st_size, sha256(full)) if full.is_file() else (None, None)
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO artifacts (run_id, name, kind, path, bytes, time, sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, kind, rel, size, time.time(), digest),
            )

    def artifacts(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Artifacts with ``path`` resolved to an absolute path."""
        sql, args = "SELECT name, kind, path, bytes, sha256 FROM artifacts WHERE run_id = ?", [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        out = []
        for r in self._query(sql + " ORDER BY time, name", args):
            d = dict(r)
            p = Path(d["path"])
            d["path"] = str(p if p.is_absolute() else self.root / p)
            out.append(d)
        return out
