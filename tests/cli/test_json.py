"""`--json` on the commands that print results: the whole of stdout is one JSON document."""

from __future__ import annotations

import json

from wgflow.cli import app as cli


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_is_one_array_with_presets(capsys):
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    fake = next(r for r in rows if r["name"] == "fake-machinery")
    assert code == 0 and set(fake) == {"name", "title", "reference", "presets"}
    assert "quick" in fake["presets"] and "full" in fake["presets"]
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)


def test_show_json_has_fields_presets_and_the_latest_claims(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "fake-machinery", "--json", "--store", tmp_path / "none")
    obj = json.loads(out)
    assert code == 0 and obj["name"] == "fake-machinery" and obj["latest_run"] is None
    steps = next(f for f in obj["config"] if f["name"] == "steps")
    mode = next(f for f in obj["config"] if f["name"] == "mode")
    assert steps["type"] == "int" and steps["default"] == 40 and steps["description"] == "iterations of the fake flow"
    assert "diverge" in mode["domain"] and mode["default"] == "ok"
    assert "quick" in obj["presets"] and not (tmp_path / "none").exists()
    s = tmp_path / "s"
    run(capsys, "run", "fake-machinery", "--store", s)
    code, out, _ = run(capsys, "show", "fake-machinery", "--json", "--store", s)
    latest = json.loads(out)["latest_run"]
    assert code == 0 and latest["preset"] == "quick" and len(latest["claims"]) == 2
    assert {c["verdict"] for c in latest["claims"]} <= {"evidence", "pass", "posthoc", "fail"}
    assert all("null" in c and "ci" in c for c in latest["claims"])


def test_reproduce_json_is_one_object_with_records_totals_and_report(capsys, tmp_path, monkeypatch):
    from wgflow import harness
    from wgflow.cli import run as cli_run

    fake = harness.get_experiment("fake-machinery")
    monkeypatch.setattr(cli_run, "list_experiments", lambda: [fake])
    code, out, err = run(capsys, "reproduce", "--store", tmp_path / "s", "--json")
    obj = json.loads(out)  # the outcomes and the progress went to stderr
    assert code == 0 and ("[PASS]" in err or "[FAIL]" in err)
    (exp,) = obj["experiments"]
    assert exp["name"] == "fake-machinery" and exp["status"] == "completed" and exp["exit_code"] == 0
    assert len(exp["run_id"]) > 0 and len(exp["claims"]) == 2
    assert set(obj["totals"]) == {"evidence", "pass", "posthoc", "fail"} and sum(obj["totals"].values()) == 2
    assert obj["totals"]["pass"] == sum(c["verdict"] == "pass" for c in exp["claims"])
    assert obj["report"] == str((tmp_path / "s" / "report.html").resolve())
