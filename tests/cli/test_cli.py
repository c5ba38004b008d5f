"""The `wgflow` command line, in process (fast) on the fake experiment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wgflow import harness
from wgflow.cli import app as cli
from wgflow.cli import run as cli_run
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


@pytest.mark.parametrize(
    "argv, key",
    [
        (["--set", "x=-1"], "'x'"),
        (["--set", "bogus=1"], "'bogus'"),
        (["--set", "steps=1.5"], "'steps'"),
        (["--set", "novalue"], "key=value"),
        (["--checkpoint-every", "0"], "--checkpoint-every"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, argv, key):
    code, out, err = run(capsys, "run", "fake-machinery", *argv, "--store", tmp_path / "s", "--json")
    assert code == 2 and out == "" and key in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_bad_usage_exits_2(capsys, tmp_path):
    for argv in (
        ["run", "fake-machinery", "--quick", "--full"],
        ["frobnicate"],
        ["run", "fake-machinery", "--seed", "x"],
    ):
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
    assert [set(c) for c in obj["claims"]] == [
        {"name", "statement", "expected", "measured", "tolerance", "passed", "source", "control", "ci", "note"}
        | {"null", "method", "power", "registered", "registration", "evidence", "posthoc", "verdict"}
    ] * 2
    assert [c["passed"] for c in obj["claims"]] == [True, False]
    assert "\r" not in err  # no progress bar under --json
    assert Store(s).get_run(obj["run_id"])["seed"] == 5


def test_failed_run_exits_1(capsys, tmp_path):
    code, out, err = run(capsys, "run", "fake-machinery", "--set", "mode=diverge", "--store", tmp_path / "s", "--json")
    obj = json.loads(out)
    assert code == 1 and obj["status"] == "failed" and "smaller step size" in err


def test_runs_report_and_reproduce(capsys, tmp_path, monkeypatch):

    s = tmp_path / "s"
    monkeypatch.setenv("WGFLOW_STORE", str(s))  # the default store comes from the environment
    code, out, _ = run(capsys, "run", "fake-machinery", "--full")
    assert code == 0 and "0 of 2 claims are evidence; 1 pass but" in out and (s / "wgflow.db").exists()
    code, out, _ = run(capsys, "runs")
    assert code == 0 and "fake-machinery" in out and "completed" in out and "0/1/2" in out
    code, out, _ = run(capsys, "report", "--out", tmp_path / "r.html")
    assert code == 0 and out.strip() == str((tmp_path / "r.html").resolve())
    fake = harness.get_experiment("fake-machinery")
    monkeypatch.setattr(cli_run, "list_experiments", lambda: [fake])
    code, out, _ = run(capsys, "reproduce", "--quick")
    report = out.strip().splitlines()[-1]
    assert code == 0 and report == str((s / "report.html").resolve())
    assert "fake-machinery" in Path(report).read_text(encoding="utf-8")
    code, out, _ = run(capsys, "runs", "--json")
    assert [r["preset"] for r in json.loads(out)] == ["quick", "full"]


def test_help_and_list_do_not_import_torch():
    """`wgflow --help` and `wgflow list` start without torch (the console script's fast path)."""
    import subprocess
    import sys

    code = (
        "import sys; from wgflow.cli import app as cli; import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    rc = cli.main(['list'])\n"
        "assert rc == 0 and 'teacher-student' in out.getvalue(), out.getvalue()\n"
        "assert 'torch' not in sys.modules, 'list imported torch'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_runs_and_show_do_not_import_torch_once_the_experiment_is_described(tmp_path):
    """`wgflow runs` and `wgflow show` read an experiment's description from the cache (computed once,
    with torch, by the first command that needs it): later processes start without torch and print the same."""
    import os
    import subprocess
    import sys

    from wgflow.store import Store

    s = Store(tmp_path / "st")
    rid = s.create_run("teacher-student", {"n": 16, "d": 2}, 0, preset="quick")
    s.complete_run(rid, [], [("final", None, 1.0)])
    s.close()
    env = os.environ | {"WGFLOW_CACHE_DIR": str(tmp_path / "cache")}
    code = (
        "import sys, contextlib, io; from wgflow.cli import app as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert cli.main(['runs', '--json', '--store', {str(tmp_path / 'st')!r}]) == 0\n"
        f"    assert cli.main(['show', 'teacher-student', '--store', {str(tmp_path / 'st')!r}]) == 0\n"
        "print('torch' in sys.modules); print(out.getvalue())\n"
    )
    outs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.split("\n", 1))
    assert outs[0][0] == "True" and outs[1][0] == "False", "the second process imported torch"
    assert outs[0][1] == outs[1][1]  # the cached description prints as the computed one
    runs = json.loads(outs[1][1].split("\n", 1)[0])
    assert runs[0]["overrides"] == {"n": 16}  # d=2 is the quick preset's own value
    assert "presets (`--quick` / `--full`):" in outs[1][1] and "full: d=10" in outs[1][1]
    assert len(list((tmp_path / "cache" / "experiments").glob("teacher-student-*.json"))) == 1


def test_report_does_not_import_torch_and_shows_what_the_store_recorded(tmp_path):
    """`wgflow report` reads the store alone: neither torch nor the experiments' modules."""
    import subprocess
    import sys

    code = (
        "import sys; from wgflow.cli import app as cli; from wgflow.store import Store; import contextlib, io\n"
        f"s = Store({str(tmp_path / 'st')!r})\n"
        "s.describe_experiment('teacher-student', title='A recorded title', description='Recorded prose.')\n"
        "rid = s.create_run('teacher-student', {'n': 16}, 0, preset='quick')\n"
        "s.complete_run(rid, [], [('final', None, 1.0)])\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    rc = cli.main(['report', '--store', {str(tmp_path / 'st')!r}])\n"
        "page = open(out.getvalue().strip(), encoding='utf-8').read()\n"
        "assert rc == 0 and 'A recorded title' in page and 'Recorded prose.' in page, out.getvalue()\n"
        "assert 'torch' not in sys.modules, 'report imported torch'\n"
        "assert 'wgflow.experiments.teacher_student' not in sys.modules, 'report filled the registry'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_catalog_matches_registry():
    from wgflow.harness import list_experiments
    from wgflow.harness.catalog import catalog

    assert [(e.name, e.title, e.reference) for e in catalog()] == [
        (e.name, e.title, e.reference) for e in list_experiments()
    ]


def test_show_lists_keys_defaults_domains_presets_and_claims(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "fake-machinery", "--store", tmp_path / "none")
    assert code == 0 and "config (" in out and "presets" in out and "recorded by a run" in out
    code, _, err = run(capsys, "show", "no-such-experiment")
    assert code == 2 and "unknown experiment" in err
    s = tmp_path / "s"
    run(capsys, "run", "fake-machinery", "--store", s)
    code, out, _ = run(capsys, "show", "fake-machinery", "--store", s)
    assert code == 0 and "claims of the latest run" in out and "source: Nobody & Nobody" in out


def test_runs_table_shows_seed_overrides_sweep_and_control(capsys, tmp_path):
    s = tmp_path / "s"
    run(capsys, "run", "fake-machinery", "--store", s, "--seed", "7", "--set", "steps=12")
    run(capsys, "run", "fake-machinery", "--store", s, "--untrained")
    code, out, _ = run(capsys, "runs", "--store", s, "--experiment", "fake-machinery")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:7] == [
        "run_id",
        "experiment",
        "preset",
        "seed",
        "status",
        "ev/ok/n",
        "overrides",
    ]
    row = next(ln for ln in lines if " 7 " in ln)
    assert "steps=12" in row and "quick*" in out and "untrained negative control" in out
    code, out, _ = run(capsys, "runs", "--store", s, "--json")
    rows = json.loads(out)
    assert {r["seed"] for r in rows} == {7, 0} and any(r["overrides"] == {"steps": 12} for r in rows)
    assert any(r["untrained"] for r in rows)


def test_reproduce_reports_progress_estimate_and_claim_total(capsys, tmp_path, monkeypatch):

    fake = harness.get_experiment("fake-machinery")
    monkeypatch.setattr(cli_run, "list_experiments", lambda: [fake, fake])
    code, _out, err = run(capsys, "reproduce", "--store", tmp_path / "s", "--heartbeat", "0.01")
    assert code == 0
    assert "experiment 1/2 fake-machinery (quick): 0 s elapsed, estimate after the first experiment" in err
    assert "experiment 2/2" in err and "left" in err.split("experiment 2/2")[1].splitlines()[0]
    assert "2 experiments in" in err and "0 of 4 claims are evidence; 2 pass" in err
    code, _, err = run(capsys, "reproduce", "--store", tmp_path / "s", "--heartbeat", "0")
    assert code == 2 and "--heartbeat" in err


def test_heartbeat_speaks_only_when_piped():
    import io
    import time

    from wgflow.cli.progress import Heartbeat

    buf = io.StringIO()
    with Heartbeat("x (experiment 1/1)", every=0.02, stream=buf):
        time.sleep(0.15)
    assert "still running x (experiment 1/1)" in buf.getvalue()

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    with Heartbeat("x", every=0.02, stream=tty):
        time.sleep(0.06)
    assert tty.getvalue() == ""


def test_estimate_uses_previous_runs_then_the_mean():
    from wgflow.cli.progress import estimate_left, previous_durations

    runs = [
        {"experiment": "a", "status": "completed", "preset": "quick", "started_at": 1, "duration_s": 10.0},
        {"experiment": "a", "status": "completed", "preset": "quick", "started_at": 2, "duration_s": 30.0},
        {"experiment": "b", "status": "failed", "preset": "quick", "started_at": 3, "duration_s": 99.0},
        {"experiment": "c", "status": "completed", "preset": "full", "started_at": 3, "duration_s": 99.0},
        {
            "experiment": "a",
            "status": "completed",
            "preset": "quick",
            "started_at": 4,
            "duration_s": 1.0,
            "untrained": 1,
        },
    ]  # a negative control takes no training step: it does not estimate a trained run
    known = previous_durations(runs, "quick")
    assert known == {"a": 30.0}
    assert previous_durations(runs, "quick", untrained=True) == {"a": 1.0}
    assert estimate_left(["a", "b"], known, []) is None
    assert estimate_left(["a", "b"], known, [4.0, 6.0]) == 35.0


def test_figure_options_reach_the_context(capsys, tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("WGFLOW_FIGURE_FORMAT", raising=False)
    monkeypatch.delenv("WGFLOW_FIGURE_DPI", raising=False)
    s = tmp_path / "s"
    code, _out, _ = run(capsys, "--figure-format", "svg", "--dpi", "200", "run", "fake-machinery", "--store", s)
    assert code == 0
    figs = sorted((s / "runs").rglob("fake_curve.*"), key=lambda f: f.suffix)
    assert [f.suffix for f in figs] == [".png", ".svg"]  # a vector figure with its PNG preview
    assert figs[1].read_text().lstrip().startswith("<?xml")
    os.environ.pop("WGFLOW_FIGURE_FORMAT"), os.environ.pop("WGFLOW_FIGURE_DPI")
    code, _, err = run(capsys, "--dpi", "5", "list")
    assert code == 2 and "dpi" in err


TWO_EXPERIMENTS = """
from dataclasses import dataclass

from wgflow.harness import Experiment, ExperimentResult, Null, claim_le, register


@dataclass(frozen=True)
class Cfg:
    value: float = 1.0  # what the run measures


for _name in ("jobs-a", "jobs-b"):

    @register
    class _Exp(Experiment):
        name = _name
        title = reference = description = "reproduce --jobs test"
        Config = Cfg

        def run(self, cfg, ctx):
            return ExperimentResult([claim_le("small", "it is small", cfg.value, 2.0, null=Null("zero", 9.0))])
"""


def test_reproduce_runs_named_experiments_in_parallel_processes(tmp_path):
    """``reproduce NAMES --jobs 2``: each experiment in its own process, all recorded in one store."""
    import os
    import re
    import subprocess
    import sys

    import wgflow

    (tmp_path / "two.py").write_text(TWO_EXPERIMENTS)
    env = {
        **os.environ,
        "WGFLOW_EXPERIMENTS": str(tmp_path / "two.py"),
        "PYTHONPATH": str(Path(wgflow.__file__).parents[1]),
    }
    cmd = [
        sys.executable,
        "-m",
        "wgflow",
        "reproduce",
        "jobs-a",
        "jobs-b",
        "--jobs",
        "2",
        "--store",
        str(tmp_path / "s"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(r"2 experiments, 2 at a time \(\d+ torch thread\(s\) each\)", done.stderr)
    assert "2 experiments in" in done.stderr and "0 of 2 claims are evidence; 2 pass" in done.stderr
    runs = Store(tmp_path / "s").runs()
    assert sorted(r["experiment"] for r in runs) == ["jobs-a", "jobs-b"] and {r["status"] for r in runs} == {
        "completed"
    }
    assert done.stdout.count("[PASS] small") == 2
    as_json = subprocess.run([*cmd[:-1], str(tmp_path / "j"), "--json"], capture_output=True, text=True, env=env)
    obj = json.loads(as_json.stdout)  # the outcome lines went to stderr
    assert sorted(e["name"] for e in obj["experiments"]) == ["jobs-a", "jobs-b"] and obj["totals"]["pass"] == 2
    assert as_json.stderr.count("[PASS] small") == 2
    bad = subprocess.run([*cmd[:4], "no-such", "--store", str(tmp_path / "t")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "unknown experiment 'no-such'" in bad.stderr and not (tmp_path / "t").exists()
