"""The store's tables: the versioned SQLite schema and how rows are written into them.

:data:`MIGRATIONS` are applied in order, each in its own transaction, when a store is opened
(:class:`~wgflow.store.sqlite.Store`); the schema version is their number. The row writers take
an open connection inside the caller's ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "RUN_STATUSES",
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "to_json",
    "read_claim",
    "write_claims",
    "write_experiment",
    "write_metrics",
    "write_status",
]

RUN_STATUSES = ("running", "completed", "failed", "interrupted")
DB_NAME = "wgflow.db"

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        run_id      TEXT PRIMARY KEY,
        experiment  TEXT NOT NULL,
        preset      TEXT,
        seed        INTEGER NOT NULL,
        config      TEXT NOT NULL,              -- JSON of the validated config
        status      TEXT NOT NULL CHECK (status IN ('running','completed','failed','interrupted')),
        message     TEXT,
        started_at  REAL NOT NULL,              -- unix time of the first start
        resumed_at  REAL,                       -- unix time of the latest resume
        ended_at    REAL,
        duration_s  REAL NOT NULL DEFAULT 0,    -- wall time summed over attempts
        attempts    INTEGER NOT NULL DEFAULT 1,
        versions    TEXT NOT NULL,              -- JSON {package: version}
        git_rev     TEXT,
        host        TEXT
    );
    CREATE INDEX runs_experiment ON runs (experiment, started_at);
    CREATE TABLE metrics (
        run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name    TEXT NOT NULL,
        step    INTEGER,                        -- NULL for a scalar summary metric
        value   REAL,
        time    REAL NOT NULL
    );
    CREATE UNIQUE INDEX metrics_key ON metrics (run_id, name, ifnull(step, -9223372036854775808));
    CREATE TABLE claims (
        run_id     TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        name       TEXT NOT NULL,
        statement  TEXT NOT NULL,
        expected   TEXT,
        measured   TEXT,                        -- JSON (number, string or null)
        tolerance  TEXT,                        -- JSON
        passed     INTEGER NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE artifacts (
        run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name    TEXT NOT NULL,
        kind    TEXT NOT NULL,                  -- figure | array | stage | file
        path    TEXT NOT NULL,                  -- relative to the store directory
        bytes   INTEGER,
        time    REAL NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    """,
    # 2: runs belong to an optional parameter sweep
    """
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;
    CREATE INDEX runs_sweep ON runs (sweep_id);
    """,
    # 3: the process running an attempt, to tell a live run from one killed by SIGKILL
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    """,
    # 4: negative-control runs (training switched off) and the evidence of each claim
    """
    ALTER TABLE runs ADD COLUMN untrained INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE claims ADD COLUMN source TEXT;
    ALTER TABLE claims ADD COLUMN control TEXT;   -- JSON (number, string or null)
    ALTER TABLE claims ADD COLUMN ci TEXT;        -- JSON [lo, hi] or null
    ALTER TABLE claims ADD COLUMN note TEXT;
    """,
    # 5: what the report says about each experiment, recorded when it runs (the report needs no registry)
    """
    CREATE TABLE experiments (
        name         TEXT PRIMARY KEY,
        title        TEXT,
        description  TEXT,
        reference    TEXT,
        captions     TEXT NOT NULL,             -- JSON {figure artifact name: caption text}
        recorded_at  REAL NOT NULL
    );
    """,
    # 6: each claim's null (same rule on the skeptic's alternative), method, power and pre-registration
    """
    ALTER TABLE claims ADD COLUMN null_json TEXT;              -- JSON {description, measured, ci, passed} or null
    ALTER TABLE claims ADD COLUMN method TEXT;
    ALTER TABLE claims ADD COLUMN power TEXT;
    ALTER TABLE claims ADD COLUMN registered INTEGER;          -- 1, 0, or NULL (recorded before registration)
    ALTER TABLE claims ADD COLUMN registration TEXT;
    ALTER TABLE claims ADD COLUMN evidence INTEGER NOT NULL DEFAULT 0;
    """,
    # 7: the SHA-256 of each artifact in its final form, verified by `wgflow runs --check`
    """
    ALTER TABLE artifacts ADD COLUMN sha256 TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def to_json(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def write_claims(c: sqlite3.Connection, run_id: str, claims: Iterable[Mapping[str, Any]]) -> None:
    data = [
        (
            run_id,
            i,
            cl["name"],
            cl["statement"],
            cl.get("expected"),
            to_json(cl.get("measured")),
            to_json(cl.get("tolerance")),
            int(bool(cl["passed"])),
            cl.get("source"),
            to_json(cl.get("control")),
            to_json(cl.get("ci")),
            cl.get("note"),
            to_json(cl.get("null")),
            cl.get("method"),
            cl.get("power"),
            None if cl.get("registered") is None else int(bool(cl["registered"])),
            cl.get("registration"),
            int(bool(cl.get("evidence"))),
        )
        for i, cl in enumerate(claims)
    ]
    c.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
    c.executemany(
        "INSERT INTO claims (run_id, position, name, statement, expected, measured, tolerance, passed,"
        " source, control, ci, note, null_json, method, power, registered, registration, evidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        data,
    )


def write_experiment(
    c: sqlite3.Connection,
    name: str,
    title: str | None,
    description: str | None,
    reference: str | None,
    captions: Mapping[str, str],
) -> None:
    c.execute(
        "INSERT OR REPLACE INTO experiments (name, title, description, reference, captions, recorded_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (name, title, description, reference, to_json({str(k): str(v) for k, v in captions.items()}), time.time()),
    )


def write_metrics(c: sqlite3.Connection, run_id: str, rows: Iterable[tuple[str, int | None, float]]) -> None:
    now = time.time()
    data = [(run_id, str(n), None if s is None else int(s), _real(v), now) for n, s, v in rows]
    c.executemany("INSERT OR REPLACE INTO metrics (run_id, name, step, value, time) VALUES (?, ?, ?, ?, ?)", data)


def write_status(c: sqlite3.Connection, run_id: str, status: str, message: str | None, duration_s: float) -> None:
    c.execute(
        "UPDATE runs SET status = ?, message = ?, ended_at = ?, duration_s = duration_s + ? WHERE run_id = ?",
        (status, message, time.time(), float(duration_s), run_id),
    )


def _real(v: Any) -> float | None:
    try:
        return float(v)  # NaN/Inf are stored as REAL too (SQLite keeps Inf; NaN becomes NULL)
    except (TypeError, ValueError):
        return None


def read_claim(r: Any) -> dict[str, Any]:
    """A row of the claims table as the dict :meth:`Store.claims` returns."""
    return {
        "name": r["name"],
        "statement": r["statement"],
        "expected": r["expected"],
        "measured": json.loads(r["measured"]),
        "tolerance": json.loads(r["tolerance"]),
        "passed": bool(r["passed"]),
        "source": r["source"],
        "control": json.loads(r["control"] or "null"),
        "ci": json.loads(r["ci"] or "null"),
        "note": r["note"],
        "null": json.loads(r["null_json"] or "null"),
        "method": r["method"],
        "power": r["power"],
        "registered": None if r["registered"] is None else bool(r["registered"]),
        "registration": r["registration"],
        "evidence": bool(r["evidence"]),
        "posthoc": r["name"].endswith("_posthoc"),
        "verdict": _verdict(r),
    }


def _verdict(r: Any) -> str:
    """A stored claim's verdict (``r`` a row of the claims table), as :attr:`wgflow.harness.Claim.verdict` gives it."""
    if r["name"].endswith("_posthoc"):
        return "posthoc"
    return "evidence" if r["evidence"] else ("pass" if r["passed"] else "fail")
