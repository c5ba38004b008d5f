"""Resuming teacher-student after SIGKILL ends with exactly the numbers of an uninterrupted run.

A float64 CPU flow is deterministic; the checkpoint holds theta, the step, the
generator state and the trajectory so far, so continuing from it must reproduce the
uninterrupted run bit for bit. The kill comes from the store context's ``on_checkpoint_saved`` hook,
injected by the ``wgflow_cli`` fixture: the process sends itself the signal right after a
checkpoint, in the middle of the flow. A damaged checkpoint is set aside and the run resumes
from the previous generation (still bit for bit), or from the start when none is readable.
"""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from wgflow.cli import app as cli
from wgflow.harness.runner import execute
from wgflow.store import Store

SETTINGS = ["--set", "n=8", "--set", "steps=120", "--set", "n_snapshots=6", "--checkpoint-every", "20"]
OVERRIDES = {"n": 8, "steps": 120, "n_snapshots": 6}


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, capsys, wgflow_cli):
    wgflow = wgflow_cli
    store_path = tmp_path / "killed"
    killed = wgflow("run", "teacher-student", *SETTINGS, "--seed", "4", "--store", store_path, "--json", kill_after=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (row,) = Store(store_path).runs()
    rid = row["run_id"]
    assert row["status"] == "running"  # SIGKILL leaves no chance to write
    ck = store_path / "runs" / rid / "checkpoints" / "flow.npz"
    assert int(np.load(ck, allow_pickle=False)["step"]) == 40
    assert cli.main(["runs", "--store", str(store_path)]) == 0
    listed = capsys.readouterr()
    assert "killed" in listed.out and "--resume" in listed.err

    resumed = wgflow("run", "--resume", rid, "--store", store_path, "--json")
    assert resumed.returncode == 0, resumed.stderr
    obj = json.loads(resumed.stdout)
    assert (obj["run_id"], obj["status"]) == (rid, "completed") and obj["claims"]
    run = Store(store_path).get_run(rid)
    assert run["attempts"] == 2 and run["seed"] == 4 and not ck.exists()

    ref_store = Store(tmp_path / "ref")
    ref = execute("teacher-student", "quick", OVERRIDES, seed=4, store=ref_store, quiet=True)
    assert ref.status == "completed"
    kinds = sorted((a["kind"], a["name"]) for a in ref_store.artifacts(ref.run_id))
    assert kinds == [
        ("array", "final_theta"),
        ("figure", "teacher_student_particles"),
        ("figure", "teacher_student_risk"),
        ("trajectory", "trajectory_flow"),
        ("trajectory", "trajectory_frozen"),
    ]
    from wgflow.interop import load_trajectory

    resumed_traj = load_trajectory(store_path, rid, "trajectory_flow")  # the flow resumed from its checkpoint
    assert np.array_equal(resumed_traj.snapshots, load_trajectory(ref_store, ref.run_id, "trajectory_flow").snapshots)
    a = np.load(store_path / "runs" / rid / "final_theta.npy", allow_pickle=False)
    b = np.load(ref_store.run_dir(ref.run_id) / "final_theta.npy", allow_pickle=False)
    assert a.dtype == np.float64 and np.array_equal(a, b)  # bit for bit
    assert obj["metrics"]["risk_final"] == ref.result.metrics["risk_final"]
    assert obj["metrics"]["w2_from_start"] == ref.result.metrics["w2_from_start"]
    assert [(c["name"], c["passed"]) for c in obj["claims"]] == [(c.name, c.passed) for c in ref.result.claims]
    stored = Store(store_path).metrics(rid, "risk")
    assert [m["value"] for m in stored] == [m["value"] for m in ref_store.metrics(ref.run_id, "risk")]


@pytest.mark.parametrize("damage", ["latest", "both"])
def test_a_damaged_checkpoint_is_set_aside_and_the_run_resumes(tmp_path, wgflow_cli, damage):
    store_path = tmp_path / "s"
    killed = wgflow_cli("run", "teacher-student", *SETTINGS, "--seed", "4", "--store", store_path, kill_after=3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (row,) = Store(store_path).runs()
    ck = store_path / "runs" / row["run_id"] / "checkpoints"
    latest, prev = ck / "flow.npz", ck / "flow.prev.npz"
    assert [int(np.load(p, allow_pickle=False)["step"]) for p in (latest, prev)] == [60, 40]  # two generations
    for p in [latest, prev] if damage == "both" else [latest]:
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # a truncated copy

    resumed = wgflow_cli("run", "--resume", row["run_id"], "--store", store_path, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert f"checkpoint {latest} is damaged (BadZipFile" in resumed.stderr
    assert len(list(ck.glob("flow.npz.damaged-*"))) == 1  # named and kept for inspection, not deleted
    if damage == "latest":
        assert "resuming from the previous checkpoint flow.prev.npz" in resumed.stderr
    else:
        assert "this flow starts again from step 0" in resumed.stderr
    ref = execute("teacher-student", "quick", OVERRIDES, seed=4, store=Store(tmp_path / "ref"), quiet=True)
    assert json.loads(resumed.stdout)["metrics"]["risk_final"] == ref.result.metrics["risk_final"]  # bit for bit


@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_sigterm_and_sigint_mark_interrupted(tmp_path, sig, code, wgflow_cli):
    store_path = tmp_path / "s"
    p = wgflow_cli("run", "teacher-student", *SETTINGS, "--store", store_path, kill_after=1, sig=sig)
    assert p.returncode == code, p.stderr
    assert f"interrupted by {sig}" in p.stderr
    (row,) = Store(store_path).runs()
    assert row["status"] == "interrupted" and "--resume" in row["message"]
    assert f"wgflow run --resume {row['run_id']}" in p.stderr
    assert (store_path / "runs" / row["run_id"] / "checkpoints" / "flow.npz").exists()


def test_directory_runs_resume_only_their_own_stages(tmp_path):
    # Stages are memoised by key: a directory must not hand one run's stages to another config or seed.
    from wgflow.experiments import run_experiment
    from wgflow.harness import ConfigError

    tiny = {
        "task": "moons",
        "m": 24,
        "m_test": 8,
        "gammas": (0.0, 1e-3),
        "seeds": 1,
        "steps": 3,
        "lrs": (0.02,),
        "snapshots": (0, 3),
    }
    a = run_experiment("resnet-geodesic", "quick", tiny, seed=0, out_dir=tmp_path)
    b = run_experiment("resnet-geodesic", "quick", tiny, seed=0, out_dir=tmp_path)  # resumed from the stages
    assert a.metrics == b.metrics and (tmp_path / "run.json").exists()
    with pytest.raises(ConfigError, match="another run"):
        run_experiment("resnet-geodesic", "quick", {**tiny, "steps": 4}, seed=0, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="another run"):
        run_experiment("resnet-geodesic", "quick", tiny, seed=1, out_dir=tmp_path)
