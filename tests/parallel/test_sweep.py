"""Sweeps: grid expansion, the local and Dask executors give the same store, failures, resuming."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from wgflow.cli import main
from wgflow.harness import ConfigError
from wgflow.harness.contract import _REGISTRY
from wgflow.parallel.executors import DaskExecutor, LocalExecutor
from wgflow.parallel.sweep import expand_grid, parse_grid, parse_seeds, run_sweep, sweep_id_for
from wgflow.store import Store


@pytest.fixture(scope="module", autouse=True)
def fake_experiment():
    path = Path(__file__).with_name("_sweep_fake.py")
    spec = importlib.util.spec_from_file_location("_sweep_fake", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_sweep_fake"] = mod
    spec.loader.exec_module(mod)
    yield
    _REGISTRY.pop("sweep-fake", None)
    sys.modules.pop("_sweep_fake", None)


def test_grid_and_seed_parsing():
    assert parse_grid(["n=16,32", "eta=0.5"]) == {"n": ["16", "32"], "eta": ["0.5"]}
    assert parse_grid(["t=(0,8);(0,16)"]) == {"t": ["(0,8)", "(0,16)"]}
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7] and parse_seeds(None) == [0]
    pts = expand_grid({"n": [1, 2], "d": [5, 6, 7]}, [0, 1])
    assert len(pts) == 12 and pts[0] == ({"n": 1, "d": 5}, 0) and pts[-1] == ({"n": 2, "d": 7}, 1)
    assert sweep_id_for("x", "quick", {"n": [1]}, [0]) == sweep_id_for("x", "quick", {"n": ["1"]}, [0])
    for bad in (["n"], ["=1"], ["n="], ["n=1", "n=2"]):
        with pytest.raises(ConfigError):
            parse_grid(bad)
    with pytest.raises(ConfigError):
        parse_seeds("a-b")


def _table(store: Store, sid: str) -> dict:
    """(n, mode, seed) -> (status, summary metrics, claims, metric series, array artifact)."""
    out = {}
    for r in store.runs(sweep_id=sid):
        arts = {a["name"]: a for a in store.artifacts(r["run_id"])}
        arr = np.load(arts["weights"]["path"]).tolist() if "weights" in arts else None
        out[(r["config"]["n"], r["config"]["mode"], r["seed"])] = (
            r["status"],
            store.summary_metrics(r["run_id"]),
            store.claims(r["run_id"]),
            [(m["name"], m["step"], m["value"]) for m in store.metrics(r["run_id"]) if m["step"] is not None],
            arr,
        )
    return out


GRID = {"n": ["4", "8", "16"], "mode": ["ok", "raise"]}


def test_failing_points_are_recorded_and_the_others_complete(tmp_path):
    store = Store(tmp_path / "s")
    grid = {"n": ["4", "8"], "mode": ["ok", "raise", "diverge", "die"]}
    s = run_sweep("sweep-fake", grid, [0], store=store, executor=LocalExecutor(2))
    assert s.total == 8 and len(s.completed) == 2 and len(s.failed) == 6 and not s.ok
    t = _table(store, s.sweep_id)
    assert t[(4, "ok", 0)][0] == "completed" and t[(4, "ok", 0)][1]["loss"] == pytest.approx(0.75)
    assert t[(8, "ok", 0)][4] == list(np.arange(8.0))
    about = store.experiment("sweep-fake")  # what the report says about it, recorded by the driver
    assert about is not None and about["title"] == "Sweep test experiment"
    versions = {r["versions"].get("python") for r in store.runs(sweep_id=s.sweep_id)}
    assert len(versions) == 1 and None not in versions  # every point carries the driver's provenance
    msgs = {
        key: r["message"] for r in store.runs(sweep_id=s.sweep_id) for key in [(r["config"]["n"], r["config"]["mode"])]
    }
    assert "RuntimeError: point n=4 raises on purpose" in msgs[(4, "raise")]
    assert msgs[(8, "diverge")].startswith("diverged:")
    assert "worker process lost" in msgs[(8, "die")]
    assert all(t[k][0] == "failed" for k in t if k[1] != "ok")
    text = "\n".join(s.lines())
    assert text.count("FAILED") == 6 and "n=8 mode=die seed=0" in text


def test_rerun_completes_only_the_missing_points(tmp_path):
    store = Store(tmp_path / "s")
    ex = LocalExecutor(2)
    first = run_sweep(
        "sweep-fake", {"n": ["4", "8"], "mode": ["ok", "raise"]}, [0], store=store, executor=ex, sweep_id="grow"
    )
    assert (len(first.completed), len(first.failed)) == (2, 2)
    before = {r["run_id"]: r for r in store.runs(sweep_id="grow")}
    second = run_sweep(
        "sweep-fake", {"n": ["4", "8", "16"], "mode": ["ok", "raise"]}, [0], store=store, executor=ex, sweep_id="grow"
    )
    # the 2 completed points are skipped; n=16 runs for the first time; the 2 failed points are retried in place
    assert second.skipped == 2 and len(second.completed) == 1 and len(second.failed) == 3
    after = {r["run_id"]: r for r in store.runs(sweep_id="grow")}
    assert len(after) == 6 and set(before) <= set(after)
    for rid, r in before.items():
        if r["status"] == "completed":
            assert after[rid]["ended_at"] == r["ended_at"] and after[rid]["attempts"] == 1
        else:
            assert after[rid]["attempts"] == 2
    third = run_sweep(
        "sweep-fake", {"n": ["4", "8", "16"], "mode": ["ok"]}, [0], store=store, executor=ex, sweep_id="grow"
    )
    assert third.skipped == 3 and third.ok and not third.completed


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_store_as_local_processes(tmp_path):
    seeds = [0, 1]
    local = Store(tmp_path / "local")
    s1 = run_sweep("sweep-fake", GRID, seeds, store=local, executor=LocalExecutor(2))
    with DaskExecutor("local", workers=2) as ex:
        assert ex.workers == 2
        remote = Store(tmp_path / "dask")
        s2 = run_sweep("sweep-fake", GRID, seeds, store=remote, executor=ex)
    assert s1.sweep_id == s2.sweep_id and len(s2.completed) == 6 and len(s2.failed) == 6
    a, b = _table(local, s1.sweep_id), _table(remote, s2.sweep_id)
    assert len(a) == 12 and a == b


def test_cli_sweep_and_bad_grid(tmp_path, capsys):
    store = str(tmp_path / "s")
    assert main(["sweep", "sweep-fake", "--grid", "n=2,4", "--seeds", "0-1", "--workers", "2", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "4 points, 0 already completed, 4 completed now, 0 failed" in out
    assert main(["sweep", "sweep-fake", "--grid", "n=2,4", "--seeds", "0-1", "--store", store]) == 0
    assert "4 already completed, 0 completed now" in capsys.readouterr().out
    assert main(["sweep", "sweep-fake", "--grid", "n=2,x", "--store", str(tmp_path / "t")]) == 2
    assert main(["sweep", "sweep-fake", "--grid", "mode=ok,raise", "--store", store]) == 1
    assert not (tmp_path / "t").exists()  # a bad grid writes nothing


def test_cli_sweep_json_is_one_object_on_stdout(tmp_path, capsys):
    import json

    argv = ["sweep", "sweep-fake", "--grid", "mode=ok,raise", "--workers", "1", "--store", str(tmp_path / "s")]
    assert main([*argv, "--json"]) == 1
    out, _ = capsys.readouterr()
    obj = json.loads(out)  # the whole of stdout; the logs went to stderr
    assert obj["total"] == 2 and obj["ok"] is False and len(obj["completed"]) == 1
    assert [f["overrides"] for f in obj["failed"]] == [{"mode": "raise"}] and obj["failed"][0]["message"]
    (tmp_path / "c.toml").write_text("n = 4\n", encoding="utf-8")  # a fixed key from --config, typed by TOML
    assert main([*argv[:3], "mode=ok", *argv[4:], "--config", str(tmp_path / "c.toml"), "--json"]) == 0
    (rid,) = json.loads(capsys.readouterr()[0])["completed"]
    assert Store(tmp_path / "s").get_run(rid)["config"]["n"] == 4


def test_report_shows_the_sweep_table_failures_and_fitted_exponent(tmp_path):
    from wgflow.report import render_report
    from wgflow.report.sweep import fit_exponent, sweep_table

    n = np.array([4.0, 8, 16, 32])
    beta, c = fit_exponent(n, 3.0 / n)
    assert beta == pytest.approx(-1.0, abs=1e-12) and c == pytest.approx(3.0)
    store = Store(tmp_path / "s")
    s = run_sweep(
        "sweep-fake", {"n": ["4", "8", "16"]}, [0, 1], store=store, executor=LocalExecutor(2), sweep_id="scaling"
    )
    run_sweep(
        "sweep-fake", {"n": ["4"], "mode": ["raise"]}, [0], store=store, executor=LocalExecutor(1), sweep_id="broken"
    )
    keys, names, rows = sweep_table(store, s.sweep_id)
    assert keys == ["n"] and names[0] == "loss" and [r["n"] for r in rows] == [4, 4, 8, 8, 16, 16]
    page = render_report(store)
    assert '<table class="sweep" data-sweep="scaling">' in page and 'data-points="6" data-completed="6"' in page
    assert "least-squares power law" in page  # the scaling plot (its legend holds the fitted slope)
    assert page.count("data:image/png;base64,") >= 1 and "raises on purpose" in page


def test_every_name_wgflow_parallel_offers_resolves():
    import wgflow.parallel as parallel

    missing = []
    for name in parallel.__all__:
        try:
            getattr(parallel, name)
        except (AttributeError, ImportError):
            missing.append(name)
    assert not missing
