"""SIGTERM / SIGINT to a sweep driver: workers stopped (none survives), unfinished points
``interrupted``, exit 143 / 130; running the sweep again completes only the unfinished points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wgflow.store import Store

HERE = Path(__file__).parent
DRIVER = f"""
import signal, sys
# as started from a foreground shell: a suite launched in the background (nohup, &) hands its children
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {str(HERE)!r})
import _sweep_fake  # registers sweep-fake in the driver; workers import it from its file
from wgflow.cli import main
sys.exit(main(sys.argv[1:]))
"""
# two fast points complete, then two slow ones occupy both workers when the signal comes
ARGS = ["sweep", "sweep-fake", "--grid", "mode=ok,slow", "--grid", "n=4,8", "--workers", "2"]


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(d.name))
    return out


def _descendants(pid: int) -> set[int]:
    tree, out, todo = _children(), set(), [pid]
    while todo:
        for c in tree.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped computing; only its exit status is left


def _statuses(store_path) -> list[str]:
    if not (store_path / "wgflow.db").exists():
        return []
    with Store(store_path) as s:
        return sorted(r["status"] for r in s.runs())


def _wait(pred, timeout, what):
    t_end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < t_end, f"timed out waiting for {what}"
        time.sleep(0.2)


def _interrupt_sweep(tmp_path, sig, extra=(), start_timeout=360):  # generous: workers import torch on a loaded machine
    store = tmp_path / "store"
    env = {**os.environ, "SWEEP_FAKE_SLEEP": "120", "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *ARGS, *extra, "--store", str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: set[int] = set()

        def two_done_two_running():
            seen.update(_descendants(driver.pid))
            return _statuses(store) == ["completed", "completed", "running", "running"]

        _wait(two_done_two_running, start_timeout, "two points to complete")
        time.sleep(2.0)  # the slow points are in their workers now
        seen.update(_descendants(driver.pid))
        assert seen, "the sweep started no process"
        driver.send_signal(sig)
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    _wait(lambda: not any(_alive(p) for p in seen), 30, f"workers {sorted(p for p in seen if _alive(p))} to stop")
    return driver.returncode, out, err, store


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)])
def test_a_signal_stops_the_workers_marks_interrupted_and_the_rerun_finishes_only_those(tmp_path, sig, code):
    rc, _out, err, store = _interrupt_sweep(tmp_path, sig)
    assert rc == code, err
    assert "Traceback" not in err
    assert _statuses(store) == ["completed", "completed", "interrupted", "interrupted"]
    with Store(store) as s:
        before = {r["run_id"]: r for r in s.runs()}
    assert all(
        ("SIGTERM" if sig == signal.SIGTERM else "SIGINT") in r["message"]
        for r in before.values()
        if r["status"] == "interrupted"
    )

    env = {**os.environ, "SWEEP_FAKE_SLEEP": "0", "OMP_NUM_THREADS": "1"}
    again = subprocess.run(
        [sys.executable, "-c", DRIVER, *ARGS, "--store", str(store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "4 points, 2 already completed, 2 completed now, 0 failed" in again.stdout
    with Store(store) as s:
        after = {r["run_id"]: r for r in s.runs()}
    assert set(after) == set(before) and all(r["status"] == "completed" for r in after.values())
    for rid, r in before.items():  # completed points were not run again; interrupted ones resumed in place
        assert after[rid]["attempts"] == (1 if r["status"] == "completed" else 2)


@pytest.mark.slow
def test_sigterm_to_a_dask_sweep_stops_its_local_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    rc, _out, err, store = _interrupt_sweep(tmp_path, signal.SIGTERM, ["--dask", "local"], start_timeout=480)
    assert rc == 143, err
    assert _statuses(store) == ["completed", "completed", "interrupted", "interrupted"]
