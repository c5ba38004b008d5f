"""-q / -v: the CLI's informational stderr lines through `logging`; errors stay one line."""

from __future__ import annotations

from wgflow import harness
from wgflow.cli import app as cli
from wgflow.cli import run as cli_run


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_quiet_hides_progress_and_verbose_adds_detail(capsys, tmp_path, monkeypatch):
    fake = harness.get_experiment("fake-machinery")
    monkeypatch.setattr(cli_run, "list_experiments", lambda: [fake])
    code, out, err = run(capsys, "reproduce", "--store", tmp_path / "s")
    assert code == 0 and "experiment 1/1" in err and "1 experiments in" in err  # the default is unchanged
    code, out, err = run(capsys, "-q", "reproduce", "--store", tmp_path / "s")
    assert code == 0 and "experiment 1/1" not in err and "experiments in" not in err
    assert out.strip().endswith("report.html")  # results still on stdout
    code, _, err = run(capsys, "-v", "run", "fake-machinery", "--set", "steps=12", "--store", tmp_path / "s")
    assert code == 0 and "overrides {'steps': '12'}" in err
    code, _, err = run(capsys, "run", "fake-machinery", "--set", "steps=12", "--store", tmp_path / "s")
    assert code == 0 and "overrides {" not in err


def test_quiet_errors_stay_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "-q", "run", "fake-machinery", "--set", "x=-1", "--store", tmp_path / "s")
    assert code == 2 and out == "" and "'x'" in err and len(err.strip().splitlines()) == 1
