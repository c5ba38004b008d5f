"""The hostile cases of issue 30: names never become paths, the report never follows a link out of the
store, bad store paths and OS faults are one line, and ``runs --check`` passes a fresh store.

Every refusal is one line on stderr (``wgflow: error: ...``) with the README's exit code: 2 for a wrong
name or ``--store``, 1 for a damaged store or a failed write; nothing lands outside the store.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from wgflow.cli import main
from wgflow.errors import ConfigError
from wgflow.harness import Experiment, ExperimentResult, claim_ge, contract, register
from wgflow.harness.context import DirectoryContext
from wgflow.harness.store_context import StoreCheckpointer
from wgflow.store import Store, StoreError


def _cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("wgflow: error: ") and "Traceback" not in err, repr(err)
    return err


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    return fig


# --------------------------------------------------------------------------- names never become paths
@dataclass(frozen=True)
class FigNameConfig:
    figname: str = "curve"  # the name of the figure the run saves (a plugin passing config into a path)


class FigName(Experiment):
    name = "fig-name"
    title = "saves a figure under a name from its config"
    reference = "none"
    description = "A plugin experiment that hands a config value to ctx.save_figure."
    Config = FigNameConfig
    presets = {"quick": {}}

    def run(self, cfg, ctx) -> ExperimentResult:
        path = ctx.save_figure(cfg.figname, _figure())
        return ExperimentResult([claim_ge("saved", "the figure was saved", 1.0, 0.0)], {}, {"figure": path})


@pytest.fixture
def fig_name():
    register(FigName)
    yield FigName
    contract._REGISTRY.pop(FigName.name, None)


@pytest.mark.parametrize("figname", ["../../../PWNED", "a/b", "x<y", "..", ".hidden", "", "a" * 300])
def test_a_figure_name_from_a_config_is_refused_before_it_is_written(tmp_path, capsys, fig_name, figname):
    work = tmp_path / "work"
    store = work / "deep" / "store"
    code, _, err = _cli(capsys, "run", "fig-name", "--set", f"figname={figname}", "--store", store)
    assert code == 2 and "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("wgflow:")]  # beside the run's log line
    assert "failed: figure name" in line and "not a safe name" in line, err
    assert not list(tmp_path.rglob("PWNED*")) and not list(tmp_path.rglob("*.png"))
    (run,) = Store(store).runs()  # the run is recorded as failed, not left half-written as running
    assert run["status"] == "failed" and "not a safe name" in run["message"]


def test_a_safe_figure_name_is_saved_and_checks_clean(tmp_path, capsys, fig_name):
    store = tmp_path / "s"
    code, _, err = _cli(capsys, "run", "fig-name", "--set", "figname=eta-0.5_n=8", "--store", store)
    assert code == 0, err
    assert _cli(capsys, "runs", "--check", "--store", store)[0] == 0


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a\\b", "a b", "a\x00b"])
def test_directory_context_refuses_unsafe_names(tmp_path, name):
    ctx = DirectoryContext(tmp_path / "out")
    before = _tree(tmp_path)
    with pytest.raises(ConfigError, match="not a safe name"):
        ctx.save_figure(name, _figure())
    with pytest.raises(ConfigError, match="not a safe name"):
        ctx.save_array(name, np.zeros(3))
    assert _tree(tmp_path) == before


def test_a_link_inside_the_run_folder_is_not_written_through(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"mine")
    ctx = DirectoryContext(tmp_path / "out")
    (ctx.out_dir / "curve.png").symlink_to(outside)
    with pytest.raises(ConfigError, match="leads outside"):
        ctx.save_figure("curve", _figure())
    assert outside.read_bytes() == b"mine"


def test_store_names_and_artifact_paths_stay_inside_the_run(tmp_path, store):
    rid = store.create_run("fake-machinery", {}, 0)
    for bad in ("../../x", "a/b", ""):
        with pytest.raises(ConfigError):
            store.run_dir(bad)
        with pytest.raises(ConfigError):
            store.create_run(bad, {}, 0)
        with pytest.raises(ConfigError):
            store.create_run("fake-machinery", {}, 0, run_id=bad)
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"x")
    with pytest.raises(ConfigError, match="leads outside"):
        store.add_artifact(rid, "fig", outside)
    other = store.create_run("fake-machinery", {}, 0)
    theirs = store.run_dir(other) / "fig.png"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"x")
    with pytest.raises(ConfigError, match="leads outside"):  # another run's folder is outside this run's
        store.add_artifact(rid, "fig", theirs)
    with pytest.raises(ConfigError, match="not a safe name"):
        store.add_artifact(other, "../fig", theirs)
    assert store.artifacts(rid) == [] and store.artifacts(other) == []


# --------------------------------------------------------------------------- a trustworthy --check
def test_a_fresh_store_checks_clean_after_verdict_titles(tmp_path, capsys):
    # the fake's figure is bound to a claim by its captions: saved, then saved again with its verdict
    store = tmp_path / "s"
    assert _cli(capsys, "run", "fake-machinery", "--store", store)[0] == 0
    code, out, err = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 0 and out == "" and err.endswith("1 runs, ok\n"), (out, err)
    (a,) = [a for a in Store(store).artifacts(Store(store).runs()[0]["run_id"]) if a["name"] == "fake_curve"]
    assert a["bytes"] == Path(a["path"]).stat().st_size and len(a["sha256"]) == 64


def test_check_names_a_file_changed_in_place(tmp_path, capsys):
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    arr = next((store / "runs").glob("*/totals.npy"))
    data = bytearray(arr.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    arr.write_bytes(bytes(data))
    code, out, _ = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 1 and "'totals' does not match its recorded SHA-256" in out


# --------------------------------------------------------------------------- links out of the store
def test_a_figure_replaced_by_a_link_fails_the_check_and_the_report_refuses_it(tmp_path, capsys):
    store, secret = tmp_path / "s", tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:secret\n")
    _cli(capsys, "run", "fake-machinery", "--store", store)
    fig = next((store / "runs").glob("*/fake_curve.png"))
    fig.unlink()
    fig.symlink_to(secret)
    code, out, _ = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 1 and "'fake_curve' is a link" in out and out.count("\n") == 1, out
    code, out, err = _cli(capsys, "report", "--store", store, "--out", tmp_path / "rep" / "r.html")
    assert code == 1 and str(fig) in _one_line(err) and "links or lead out of the store" in err
    bundle = [p for p in (tmp_path / "rep").rglob("*") if p.is_file()]
    assert bundle and all(b"secret" not in p.read_bytes() for p in bundle)
    assert "is refused" in (tmp_path / "rep" / "r.html").read_text()


def test_check_names_links_rows_without_folders_and_folders_without_rows(tmp_path, capsys):
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    (run_dir,) = (store / "runs").iterdir()
    (run_dir / "escape").symlink_to(tmp_path)
    (store / "runs" / "stray").mkdir()
    code, out, _ = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 1 and "escape is a link leading out of the store" in out
    assert f"folder {store / 'runs' / 'stray'} belongs to no run" in out
    (run_dir / "escape").unlink()
    run_dir.rename(tmp_path / "moved")
    code, out, _ = _cli(capsys, "runs", "--check", "--store", store)
    assert code == 1 and "completed but its folder" in out


# --------------------------------------------------------------------------- bad store paths
@pytest.mark.parametrize("where", ["file", "file/sub", "/dev/null", "/proc/wgflow-store"])
@pytest.mark.parametrize("command", [["run", "fake-machinery"], ["runs"], ["report"], ["runs", "--check"]])
def test_a_store_path_that_is_no_folder_is_one_line_exit_2(tmp_path, capsys, where, command):
    (tmp_path / "file").write_bytes(b"data")
    path = where if where.startswith("/") else tmp_path / where
    before = _tree(tmp_path)
    code, out, err = _cli(capsys, *command, "--store", path)
    assert code == 2 and out == "" and str(path) in _one_line(err), err
    assert _tree(tmp_path) == before and (tmp_path / "file").read_bytes() == b"data"


@pytest.mark.parametrize("command", [["runs"], ["report"], ["runs", "--check"], ["runs", "--format", "csv"]])
def test_reading_commands_never_create_a_store(tmp_path, capsys, command):
    code, out, err = _cli(capsys, *command, "--store", tmp_path / "new")
    assert code == 2 and "there is no store at" in _one_line(err) and out == ""
    assert not (tmp_path / "new").exists()


@pytest.fixture
def read_only(monkeypatch):
    """The stores under the given folder refuse writes, as on a read-only mount (as root, chmod would not)."""

    def under(folder: Path):
        real = os.access

        def access(path, mode, *a, **k):
            if mode & os.W_OK and Path(path).resolve().is_relative_to(folder.resolve()):
                return False
            return real(path, mode, *a, **k)

        monkeypatch.setattr("wgflow.store.health.os.access", access)

    return under


def test_an_intact_read_only_store_is_read_not_called_damaged(tmp_path, capsys, read_only):
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    db_before = (store / "wgflow.db").read_bytes()
    read_only(store)
    with Store(store, create=False) as s:
        assert s.readonly and len(s.runs()) == 1
        with pytest.raises(StoreError, match="read-only"):
            s.create_run("fake-machinery", {}, 0)
    code, out, err = _cli(capsys, "runs", "--store", store)
    assert code == 0 and "fake-machinery" in out
    assert _cli(capsys, "runs", "--check", "--store", store)[0] == 0
    code, _, err = _cli(capsys, "report", "--store", store)
    assert code == 2 and "read-only" in _one_line(err) and "--out" in err and "damaged" not in err
    code, out, err = _cli(capsys, "report", "--store", store, "--out", tmp_path / "r.html")
    assert code == 0 and (tmp_path / "r.html").is_file()
    code, _, err = _cli(capsys, "run", "fake-machinery", "--store", store)
    assert code == 2 and "read-only" in _one_line(err) and "damaged" not in err
    assert not (store / "report.html").exists() and len(list((store / "runs").iterdir())) == 1
    assert (store / "wgflow.db").read_bytes() == db_before


@pytest.mark.parametrize("damage", ["empty", "missing", "directory"])
def test_a_lost_database_beside_run_folders_is_named_never_replaced(tmp_path, capsys, damage):
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    db = store / "wgflow.db"
    for p in store.glob("wgflow.db*"):
        p.unlink()
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "directory":
        db.mkdir()
    for command in (["runs"], ["runs", "--check"], ["report"], ["run", "fake-machinery"], ["runs", "--json"]):
        code, out, err = _cli(capsys, *command, "--store", store)
        assert code == 1 and out == "" and str(store) in _one_line(err), (command, err)
        assert ("run folder(s)" in err and "restore" in err) or "is not a file" in err
    assert not (store / "report.html").exists() and len(list((store / "runs").iterdir())) == 1
    if damage == "directory":
        assert db.is_dir()
    else:
        assert db.exists() == (damage == "empty") and (damage == "missing" or db.read_bytes() == b"")


# --------------------------------------------------------------------------- OS faults while writing
def test_a_full_disk_while_writing_an_artifact_is_one_line_and_a_failed_run(tmp_path, capsys, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("wgflow.harness.store_context.atomic_save_array", full)
    store = tmp_path / "s"
    code, _, err = _cli(capsys, "run", "fake-machinery", "--store", store)
    assert code == 1 and "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("wgflow:")]  # beside the run's log line
    assert "No space left on device" in line and "free disk space" in line and "--resume" in line
    (run,) = Store(store).runs()
    assert run["status"] == "failed" and "No space left on device" in run["message"]


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ck = StoreCheckpointer(tmp_path / "checkpoints" / "flow", every=1)
    ck.save({"theta": np.arange(3.0), "k": np.int64(1)})
    ck.save({"theta": np.arange(3.0) + 1, "k": np.int64(2)})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("wgflow._io.os.fsync", full)
    with pytest.raises(OSError) as e:
        ck.save({"theta": np.arange(3.0) + 2, "k": np.int64(3)})
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    state = ck.load()
    assert state is not None and int(state["k"]) == 2 and np.array_equal(state["theta"], np.arange(3.0) + 1)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["flow.npz", "flow.prev.npz"]


def test_a_full_database_disk_is_explained_not_called_damaged(tmp_path):
    from wgflow.store.health import explain

    msg = explain(tmp_path / "wgflow.db", sqlite3.OperationalError("database or disk is full"))
    assert "disk is full" in msg and "free space" in msg and "damaged" not in msg


def test_an_os_error_outside_a_run_is_one_line(tmp_path, capsys):
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    (tmp_path / "blocker").write_bytes(b"")  # a file where the report's folder should go
    code, _, err = _cli(capsys, "report", "--store", store, "--out", tmp_path / "blocker" / "r.html")
    assert code == 1 and str(tmp_path / "blocker") in _one_line(err) and "check the path" in err


@pytest.mark.parametrize("command", [["run", "fake-machinery"], ["runs"], ["report"], ["runs", "--check"]])
def test_every_command_closes_its_store(tmp_path, capsys, command):
    # an open connection keeps the write-ahead log beside the database, to be folded in whenever the
    # garbage collector closes it: a later reader would see the database file change under it
    store = tmp_path / "s"
    _cli(capsys, "run", "fake-machinery", "--store", store)
    _cli(capsys, *command, "--store", store)
    assert not (store / "wgflow.db-wal").exists(), "a command left its store open"


def test_library_entry_points_close_the_stores_they_open(tmp_path):
    from wgflow.harness.runner import execute
    from wgflow.interop.export import run_records

    store = tmp_path / "s"
    out = execute("fake-machinery", store=store, quiet=True)
    assert out.status == "completed" and not (store / "wgflow.db-wal").exists()
    assert len(run_records(store)) == 1 and not (store / "wgflow.db-wal").exists()
    with Store(store) as s:  # a Store given is the caller's: left open
        execute("fake-machinery", store=s, quiet=True)
        assert (store / "wgflow.db-wal").exists() and len(s.runs()) == 2
