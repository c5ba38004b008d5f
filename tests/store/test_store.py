"""The SQLite store: schema migrations, WAL, round trips, concurrent writers, pickle-free arrays."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import numpy as np
import pytest

from wgflow.store import SCHEMA_VERSION, Store, atomic_save_array, load_array, new_run_id
from wgflow.store.tables import MIGRATIONS


def test_new_store_is_wal_and_at_latest_schema(tmp_path):
    s = Store(tmp_path / "st")
    assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS) >= 2
    assert s._query("PRAGMA journal_mode")[0][0] == "wal"
    cols = {r["name"] for r in s._query("PRAGMA table_info(runs)")}
    assert {"run_id", "config", "seed", "status", "versions", "git_rev", "host", "sweep_id"} <= cols
    assert s.db_path == tmp_path / "st" / "wgflow.db"


def test_migrates_a_version_1_store(tmp_path):
    db = tmp_path / "old" / "wgflow.db"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript(
        MIGRATIONS[0] + "; CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL);"
        "INSERT INTO schema_version VALUES (1, 0);"
    )
    con.execute(
        "INSERT INTO runs (run_id, experiment, seed, config, status, started_at, versions) "
        "VALUES ('old-1', 'x', 0, '{}', 'completed', 0, '{}')"
    )
    con.commit()
    con.close()
    s = Store(db)
    assert s.schema_version == SCHEMA_VERSION
    run = s.get_run("old-1")
    assert run["sweep_id"] is None and run["status"] == "completed"
    assert s.experiment("x") is None  # an old run recorded nothing about its experiment


def test_the_latest_description_of_an_experiment_wins(store):
    assert store.experiment("e") is None
    store.describe_experiment("e", title="first", captions={"curve": "falls"})
    store.describe_experiment("e", title="second", description="d", reference="r", captions={"curve": "rises"})
    about = store.experiment("e")
    assert about is not None
    assert (about["title"], about["description"], about["reference"]) == ("second", "d", "r")
    assert about["captions"] == {"curve": "rises"}
    assert store.experiment("other") is None


def test_round_trip_runs_metrics_claims_artifacts(store, tmp_path):
    rid = store.create_run(
        "teacher-student", {"n": 4, "t": [1, 2]}, 7, preset="quick", versions={"numpy": "1"}, sweep_id="sw-1"
    )
    assert rid.startswith("ts-")
    store.log_metrics(
        rid,
        [
            ("risk", 0, 1.0),
            ("risk", 10, 0.1),
            ("risk", 10, 0.05),
            ("final", None, 3.0),
            ("final", None, 4.0),
            ("bad", None, float("inf")),
        ],
    )
    assert [(m["step"], m["value"]) for m in store.metrics(rid, "risk")] == [(0, 1.0), (10, 0.05)]
    assert store.summary_metrics(rid) == {"bad": float("inf"), "final": 4.0}
    claims = [
        {
            "name": "a",
            "statement": "s",
            "expected": ">= 1",
            "measured": 2.0,
            "tolerance": 0.1,
            "passed": True,
            "source": "Thm 1",
            "control": 0.5,
            "ci": [1.5, 2.5],
            "note": None,
        },
        {
            "name": "b",
            "statement": "t",
            "expected": "x",
            "measured": "nan",
            "tolerance": None,
            "passed": False,
            "source": None,
            "control": None,
            "ci": None,
            "note": "fails at the source's settings",
        },
    ]
    claims[0] |= {
        "null": {"description": "t = 0", "measured": 1.0, "ci": [0.5, 1.5], "passed": False},
        "method": "t-mean",
        "power": "interval width 1",
        "registered": True,
        "registration": "registered 2026-12-07",
        "evidence": True,
    }
    store.set_claims(rid, claims)
    store.set_claims(rid, claims)  # replacing, not appending
    unjudged = {"null": None, "method": None, "power": None, "registered": None, "registration": None}
    assert store.claims(rid) == [
        claims[0] | {"posthoc": False, "verdict": "evidence"},
        claims[1] | unjudged | {"evidence": False, "posthoc": False, "verdict": "fail"},
    ]
    f = store.run_dir(rid) / "fig.png"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"\x89PNG")
    store.add_artifact(rid, "fig", f, kind="figure")
    (a,) = store.artifacts(rid, kind="figure")
    assert a["path"] == str(f) and a["bytes"] == 4
    store.finish_run(rid, "completed", duration_s=1.5)
    (r,) = store.runs(sweep_id="sw-1")
    assert (r["status"], r["n_claims"], r["n_passed"], r["config"], r["seed"]) == (
        "completed",
        2,
        1,
        {"n": 4, "t": [1, 2]},
        7,
    )
    with pytest.raises(ValueError):
        store.finish_run(rid, "exploded")
    with pytest.raises(KeyError):
        store.get_run("nope")


def test_failed_transaction_rolls_back(store):
    rid = store.create_run("x", {}, 0)
    with pytest.raises(sqlite3.IntegrityError):  # foreign key: the run does not exist
        store.log_metrics("no-such-run", [("ok", 1, 1.0)])
    with pytest.raises(RuntimeError), store.transaction() as c:
        c.execute("UPDATE runs SET status = 'failed' WHERE run_id = ?", (rid,))
        raise RuntimeError
    assert store.get_run(rid)["status"] == "running"
    assert store._query("SELECT count(*) FROM metrics")[0][0] == 0


def test_run_ids_are_unique_and_short():
    ids = {new_run_id("teacher-student") for _ in range(200)}
    assert len(ids) > 150 and all(len(i) <= 24 and i.startswith("ts-") for i in ids)


def _writer(path: str, tag: int, n: int) -> None:
    s = Store(path)
    for k in range(n):
        rid = s.create_run(f"exp-{tag}", {"k": k}, k)
        s.log_metrics(rid, [("m", j, float(j)) for j in range(5)])
        s.set_claims(
            rid, [{"name": "c", "statement": "s", "expected": "", "measured": 1.0, "tolerance": None, "passed": True}]
        )
        s.finish_run(rid, "completed")
    s.close()


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared")
    Store(path).close()
    # fork: the children import nothing new (the writers use only sqlite3); each opens its own connection
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_writer, args=(path, t, 60)) for t in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = Store(path)
    runs = s.runs()
    assert len(runs) == 120 and all(r["status"] == "completed" and r["n_claims"] == 1 for r in runs)
    assert sum(len(s.metrics(r["run_id"])) for r in runs) == 600


def test_arrays_are_atomic_and_pickle_free(tmp_path):
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    p = atomic_save_array(tmp_path / "a", a)
    assert p.suffix == ".npy" and np.array_equal(load_array(p), a)
    z = atomic_save_array(tmp_path / "state", {"theta": a, "step": np.array(3), "name": np.array("x")})
    back = load_array(z)
    assert z.suffix == ".npz" and np.array_equal(back["theta"], a) and int(back["step"]) == 3
    with pytest.raises(TypeError):
        atomic_save_array(tmp_path / "o", np.array([{"a": 1}], dtype=object))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.npy", "state.npz"]  # no temp files left


def test_relative_store_path_resolves_artifacts_from_any_cwd(tmp_path, monkeypatch):
    """A store opened by a relative path (the CLI default ./wgflow-runs) records artifacts the report finds."""
    import os

    from wgflow.store import Store

    monkeypatch.chdir(tmp_path)
    store = Store("runs-rel")
    assert store.root.is_absolute()
    rid = store.create_run("teacher-student", {"n": 1}, seed=0, preset="quick")
    fig = store.run_dir(rid) / "fig.png"  # what a run context hands back
    fig.parent.mkdir(parents=True, exist_ok=True)
    fig.write_bytes(b"png")
    store.add_artifact(rid, "fig", fig)
    from wgflow._io import atomic_write_bytes

    written = atomic_write_bytes(store.run_dir(rid) / "x.bin", b"1")
    umask = os.umask(0)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # ordinary permissions, not mkstemp's 0600
    monkeypatch.chdir(tmp_path.parent)
    arts = Store(tmp_path / "runs-rel").artifacts(rid)
    assert len(arts) == 1 and os.path.exists(arts[0]["path"])


def test_array_names_with_dots_keep_them(tmp_path):
    """'w2-eta-0.5' is a name, not a suffix: the array goes to w2-eta-0.5.npy (with_suffix made w2-eta-0.npy)."""
    from wgflow._io import array_path, atomic_save_array, load_array

    a = atomic_save_array(tmp_path / "w2-eta-0.5", np.arange(3))
    b = atomic_save_array(tmp_path / "w2-eta-0.25", {"x": np.ones(2)})
    assert (a.name, b.name) == ("w2-eta-0.5.npy", "w2-eta-0.25.npz")
    assert load_array(a).tolist() == [0, 1, 2] and load_array(b)["x"].tolist() == [1.0, 1.0]
    # a path that already names an array suffix keeps its stem
    assert array_path(tmp_path / "x.npy", ".npz").name == "x.npz" and array_path("y.npz", ".npz").name == "y.npz"
