"""Damaged stores and stale runs: one line naming the store and the remedy (exit 1), `runs --check`,
`--force` over a process id reused by a non-wgflow process, empty data sets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wgflow.cli import main
from wgflow.harness import config_to_dict, make_config
from wgflow.store import Store, StoreError, is_wgflow_process


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("wgflow: error: ") and "Traceback" not in err, repr(err)
    return err


def _store_with_a_run(path):
    with Store(path) as s:
        return s.create_run("fake-machinery", {"steps": 40, "x": 1.0, "mode": "ok", "label": "plain"}, 0)


@pytest.mark.parametrize("damage", ["garbage", "header", "middle"])
def test_a_damaged_database_is_one_line_naming_the_store_exit_1(tmp_path, capsys, damage):
    store = tmp_path / "s"
    rid = _store_with_a_run(store)
    with Store(store) as s:  # enough pages that damage in the middle hits the data
        s.log_metrics(rid, [("m", k, float(k)) for k in range(3000)])
    db = store / "wgflow.db"
    data = bytearray(db.read_bytes())
    if damage == "garbage":
        data = bytearray(b"this is not a database" * 100)
    elif damage == "header":
        data[:100] = os.urandom(100)
    else:
        data[4096 : len(data) - 4096] = b"\xff" * (len(data) - 8192)
    db.write_bytes(bytes(data))
    for argv in (["runs"], ["report"], ["run", "fake-machinery"], ["run", "--resume", rid], ["runs", "--check"]):
        code, out, err = _cli(capsys, *argv, "--store", store)
        if damage == "middle" and argv == ["runs", "--check"] and code == 1 and "database:" in out:
            continue  # integrity_check itself reports the damaged pages
        assert code == 1, (argv, err)
        msg = _one_line_error(err)
        assert str(db) in msg and ("damaged" in msg or "malformed" in msg) and "--check" in msg, msg


def test_runs_check_reports_missing_and_truncated_files(tmp_path, capsys):
    store = tmp_path / "s"
    assert _cli(capsys, "run", "fake-machinery", "--store", store)[0] == 0
    code, out, err = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 0 and out == "" and "ok" in err
    with Store(store) as s:
        (run,) = s.runs()
        arts = {a["name"]: a["path"] for a in s.artifacts(run["run_id"])}
    os.remove(arts["totals"])
    with open(arts["fake_curve"], "r+b") as fh:
        fh.truncate(10)
    code, out, err = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 1 and "2 problem(s)" in err
    assert f"artifact 'totals' is missing ({arts['totals']})" in out
    assert "artifact 'fake_curve' has 10 bytes" in out


def test_resume_of_an_unknown_run_creates_no_store(tmp_path, capsys):
    code, _, err = _cli(capsys, "run", "--resume", "ts-1", "--store", tmp_path / "nope")
    assert code == 2 and "no run 'ts-1' to resume" in _one_line_error(err) and not (tmp_path / "nope").exists()
    _store_with_a_run(tmp_path / "s")
    code, _, err = _cli(capsys, "run", "--resume", "ts-1", "--store", tmp_path / "s")
    assert code == 2 and "no run 'ts-1'" in _one_line_error(err)


def _running_row(store_path, pid):
    cfg = make_config("fake-machinery", "quick", {"steps": 20})
    with Store(store_path) as s:
        rid = s.create_run("fake-machinery", config_to_dict(cfg), 0, preset="quick", host=socket.gethostname())
        with s.transaction() as c:  # as if the run's process died and `pid` was given to someone else
            c.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (pid, rid))
    return rid


def _sleeper(*extra):
    """A live process that is not wgflow, once its exec is done (before, /proc shows the parent's command line)."""
    import time

    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *extra])
    for _ in range(500):
        try:
            if b"time.sleep" in Path(f"/proc/{p.pid}/cmdline").read_bytes():
                break
        except OSError:
            pass
        time.sleep(0.01)
    return p


def test_force_takes_over_a_run_whose_pid_was_reused_by_another_program(tmp_path, capsys):
    other = _sleeper()
    try:
        assert not is_wgflow_process(other.pid)
        rid = _running_row(tmp_path / "s", other.pid)
        code, _, err = _cli(capsys, "run", "--resume", rid, "--store", tmp_path / "s")
        assert code == 2 and "is not wgflow" in _one_line_error(err) and "--force" in err
        code, _out, err = _cli(capsys, "run", "--resume", rid, "--force", "--store", tmp_path / "s")
        assert code == 0, err
        with Store(tmp_path / "s") as s:
            row = s.get_run(rid)
        assert row["status"] == "completed" and row["pid"] == os.getpid() and row["attempts"] == 2
    finally:
        other.kill()
        other.wait()


def test_force_does_not_take_over_a_live_wgflow_process(tmp_path, capsys):
    live = _sleeper("wgflow")
    try:
        assert is_wgflow_process(live.pid)
        rid = _running_row(tmp_path / "s", live.pid)
        code, _, err = _cli(capsys, "run", "--resume", rid, "--force", "--store", tmp_path / "s")
        assert code == 2 and "still running" in _one_line_error(err) and "stop it first" in err
    finally:
        live.kill()
        live.wait()


def test_store_errors_are_store_errors_not_sqlite_tracebacks(tmp_path):
    (tmp_path / "wgflow.db").write_bytes(b"\0" * 50 + b"junk" * 300)
    with pytest.raises(StoreError, match="damaged or unreadable"):
        Store(tmp_path)


def test_an_empty_data_set_is_named_not_blamed_on_the_step_size():
    import torch

    from wgflow.objectives import DatasetRisk

    with pytest.raises(ValueError, match="empty") as e:
        DatasetRisk(torch.zeros(0, 3), torch.zeros(0))
    assert "step" not in str(e.value)


def test_a_damaged_stage_is_set_aside_and_computed_again(tmp_path, calls, capfd):
    from wgflow.experiments import run_experiment

    first = run_experiment("fake-machinery", "quick", seed=0, out_dir=tmp_path)
    n = calls["work"]
    stage = tmp_path / "stages" / "work.npz"
    stage.write_bytes(stage.read_bytes()[:40])  # torn
    again = run_experiment("fake-machinery", "quick", seed=0, out_dir=tmp_path)
    assert calls["work"] == n + 1 and again.metrics == first.metrics
    assert f"stage {stage} is damaged" in capfd.readouterr().err
    assert len(list(stage.parent.glob("work.npz.damaged-*"))) == 1
