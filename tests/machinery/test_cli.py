"""The `wgflow` command line, in process (fast) on the fake experiment."""

from __future__ import annotations

import json

import pytest

from wgflow import cli
from wgflow.store import Store


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys):
    for flag in ("--version", "--help"):
        with pytest.raises(SystemExit) as ex:
            cli.main([flag])
        assert ex.value.code == 0
    out = capsys.readouterr().out
    assert "wgflow 0." in out and all(c in out for c in ("list", "run", "reproduce", "report", "runs"))


def test_list_shows_registered_experiments(capsys):
    code, out, _ = run(capsys, "list")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and "teacher-student" in names and "fake-machinery" in names
    assert names == sorted(names)


@pytest.mark.parametrize("argv, key", [(["--set", "x=-1"], "'x'"), (["--set", "bogus=1"], "'bogus'"),
                                       (["--set", "steps=1.5"], "'steps'"), (["--set", "novalue"], "key=value"),
                                       (["--checkpoint-every", "0"], "--checkpoint-every")])
def test_bad_config_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, argv, key):
    code, out, err = run(capsys, "run", "fake-machinery", *argv, "--store", tmp_path / "s", "--json")
    assert code == 2 and out == "" and key in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_bad_usage_exits_2(capsys, tmp_path):
    for argv in (["run", "fake-machinery", "--quick", "--full"], ["frobnicate"], ["run", "fake-machinery", "--seed", "x"]):
        with pytest.raises(SystemExit) as ex:
            cli.main(argv)
        assert ex.value.code == 2
    code, _, err = run(capsys, "run", "--store", tmp_path / "s")
    assert code == 2 and "NAME" in err
    code, _, err = run(capsys, "run", "no-such-thing", "--store", tmp_path / "s")
    assert code == 2 and "teacher-student" in err


def test_run_json_prints_exactly_one_object(capsys, tmp_path):
    s = tmp_path / "s"
    code, out, err = run(capsys, "run", "fake-machinery", "--set", "steps=20", "--seed", "5", "--store", s, "--json")
    assert code == 0
    obj = json.loads(out)  # the whole of stdout is one JSON document
    assert list(obj)[:3] == ["experiment", "run_id", "status"]
    assert {"claims", "metrics", "artifacts"} <= set(obj)
    assert (obj["experiment"], obj["status"], obj["metrics"]) == ("fake-machinery", "completed", {"final": 20.0})
    assert [set(c) for c in obj["claims"]] == [{"name", "statement", "expected", "measured", "tolerance", "passed",
                                               "source", "control", "ci", "note"}] * 2
    assert [c["passed"] for c in obj["claims"]] == [True, False]
    assert "\r" not in err  # no progress bar under --json
    assert Store(s).get_run(obj["run_id"])["seed"] == 5


def test_failed_run_exits_1(capsys, tmp_path):
    code, out, err = run(capsys, "run", "fake-machinery", "--set", "mode=diverge", "--store", tmp_path / "s", "--json")
    obj = json.loads(out)
    assert code == 1 and obj["status"] == "failed" and "smaller step size" in err


def test_runs_report_and_reproduce(capsys, tmp_path, monkeypatch):
    from wgflow.experiments import base

    s = tmp_path / "s"
    monkeypatch.setenv("WGFLOW_STORE", str(s))  # the default store comes from the environment
    code, out, _ = run(capsys, "run", "fake-machinery", "--full")
    assert code == 0 and "claims 1/2 passed" in out and (s / "wgflow.db").exists()
    code, out, _ = run(capsys, "runs")
    assert code == 0 and "fake-machinery" in out and "completed" in out and "1/2" in out
    code, out, _ = run(capsys, "report", "--out", tmp_path / "r.html")
    assert code == 0 and out.strip() == str((tmp_path / "r.html").resolve())
    fake = base.get_experiment("fake-machinery")
    monkeypatch.setattr(base, "list_experiments", lambda: [fake])
    code, out, _ = run(capsys, "reproduce", "--quick")
    report = out.strip().splitlines()[-1]
    assert code == 0 and report == str((s / "report.html").resolve())
    assert "fake-machinery" in open(report, encoding="utf-8").read()
    code, out, _ = run(capsys, "runs", "--json")
    assert [r["preset"] for r in json.loads(out)] == ["quick", "full"]
