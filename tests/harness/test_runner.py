"""Store-backed runs of the fake experiment: records, config errors, divergence, interrupts, resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from wgflow.harness import ConfigError
from wgflow.harness.runner import StoreCheckpointer, execute


def test_completed_run_records_claims_metrics_artifacts(store):
    out = execute("fake-machinery", "quick", {"steps": "30", "label": "a<b"}, seed=3, store=store)
    assert (out.status, out.exit_code, out.message) == ("completed", 0, None)
    run = store.get_run(out.run_id)
    assert run["status"] == "completed" and run["seed"] == 3 and run["preset"] == "quick"
    assert run["config"] == {"steps": 30, "x": 1.0, "mode": "ok", "label": "a<b"}
    assert run["ended_at"] >= run["started_at"] and run["duration_s"] > 0
    assert {"python", "wgflow", "torch", "numpy", "scipy", "pot", "scikit-learn", "torchdiffeq"} <= set(run["versions"])
    # the device and threads it ran with, and torch's own view of them
    assert run["versions"]["device"] == "cpu" and run["versions"]["threads"] == "auto"
    assert int(run["versions"]["torch.threads"]) >= 1 and "torch.cuda" in run["versions"]
    assert [c["passed"] for c in store.claims(out.run_id)] == [True, False]  # a failed claim is still "completed"
    summary = store.summary_metrics(out.run_id)
    assert summary.pop("final") == 30.0 and set(summary) == {"run.wall_s", "run.cpu_s"}
    assert summary["run.cpu_s"] > 0 and 0 < summary["run.wall_s"] <= store.get_run(out.run_id)["duration_s"] + 1e-6
    assert [m["step"] for m in store.metrics(out.run_id, "total")] == [0, 10, 20]
    kinds = {a["name"]: a["kind"] for a in store.artifacts(out.run_id)}
    assert kinds == {"fake_curve": "figure", "totals": "array"}
    assert np.array_equal(np.load(store.run_dir(out.run_id) / "totals.npy", allow_pickle=False), np.arange(1, 31))
    d = out.to_dict()
    assert set(d) >= {"experiment", "run_id", "status", "claims", "metrics", "artifacts"}
    json.dumps(d)


@pytest.mark.parametrize(
    "overrides, key",
    [({"nope": 1}, "nope"), ({"steps": "many"}, "steps"), ({"x": "-1"}, "x"), ({"mode": "sideways"}, "mode")],
)
def test_bad_config_names_the_key_and_writes_nothing(store, overrides, key):
    with pytest.raises(ConfigError) as err:
        execute("fake-machinery", "quick", overrides, store=store)
    msg = str(err.value)
    assert repr(key) in msg and "\n" not in msg
    if key == "mode":
        assert "ok, diverge, interrupt, error" in msg
    if key == "nope":
        assert "steps, x, mode, label" in msg
    assert store.runs() == [] and not (store.root / "runs").exists()


def test_unknown_experiment_and_preset(store):
    with pytest.raises(ConfigError, match="choose one of"):
        execute("no-such-experiment", store=store)
    with pytest.raises(ConfigError, match="preset"):
        execute("fake-machinery", "medium", store=store)
    assert store.runs() == []


def test_divergence_marks_the_run_failed(store):
    out = execute("fake-machinery", overrides={"mode": "diverge"}, store=store, quiet=True)
    assert (out.status, out.exit_code) == ("failed", 1)
    run = store.get_run(out.run_id)
    assert run["status"] == "failed" and "smaller step size" in run["message"]


def test_exception_marks_the_run_failed(store):
    out = execute("fake-machinery", overrides={"mode": "error"}, store=store, quiet=True)
    assert (out.status, out.exit_code) == ("failed", 1) and "RuntimeError: boom" in out.message


def test_keyboard_interrupt_marks_interrupted_then_resume_completes(store):
    out = execute("fake-machinery", overrides={"mode": "interrupt"}, store=store, quiet=True)
    assert (out.status, out.exit_code) == ("interrupted", 130)
    assert store.get_run(out.run_id)["status"] == "interrupted"
    # the stored config says mode=interrupt: resuming interrupts again, and counts an attempt
    again = execute(resume=out.run_id, store=store, quiet=True)
    assert again.run_id == out.run_id and store.get_run(out.run_id)["attempts"] == 2


def test_resume_skips_completed_stages_and_refuses_completed_runs(store, calls):
    before = calls["work"]
    out = execute("fake-machinery", store=store, quiet=True)
    assert calls["work"] == before + 1
    with store.transaction() as c:  # pretend the process died after the stage (SIGKILL leaves 'running')
        c.execute("UPDATE runs SET status = 'running' WHERE run_id = ?", (out.run_id,))
    again = execute(resume=out.run_id, store=store, quiet=True)
    assert again.status == "completed" and calls["work"] == before + 1  # stage loaded from disk
    assert len(store.runs()) == 1 and len(store.claims(out.run_id)) == 2
    with pytest.raises(ConfigError, match="already completed"):
        execute(resume=out.run_id, store=store)
    with pytest.raises(ConfigError, match="no run"):
        execute(resume="zz-nothing", store=store)


def test_sigterm_during_a_run_marks_it_interrupted(store, monkeypatch):
    from wgflow.harness import runner

    real = runner.StoreContext.stage

    def stage(self, key, fn):
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises inside the experiment
        return real(self, key, fn)

    monkeypatch.setattr(runner.StoreContext, "stage", stage)
    out = execute("fake-machinery", store=store, quiet=True)
    assert (out.status, out.exit_code) == ("interrupted", 143)
    assert store.get_run(out.run_id)["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_checkpointer_round_trip_is_atomic(tmp_path):
    ck = StoreCheckpointer(tmp_path / "ck" / "flow", every=5)
    assert ck.load() is None
    state = {
        "theta": np.random.default_rng(0).normal(size=(4, 3)),
        "step": np.array(5),
        "generator": np.arange(10, dtype=np.uint8),
    }
    ck.save(state)
    back = ck.load()
    assert set(back) == set(state) and all(np.array_equal(back[k], state[k]) for k in state)
    assert back["theta"].dtype == np.float64 and [p.name for p in Path(tmp_path / "ck").iterdir()] == ["flow.npz"]


def test_resume_refuses_a_run_alive_in_another_process(store):
    out = execute("fake-machinery", overrides={"mode": "interrupt"}, store=store, quiet=True)
    with store.transaction() as c:  # the parent process (alive) claims the run
        c.execute("UPDATE runs SET status = 'running', pid = ? WHERE run_id = ?", (os.getppid(), out.run_id))
    assert store.is_alive(store.get_run(out.run_id))
    with pytest.raises(ConfigError, match="still running"):
        execute(resume=out.run_id, store=store)
    with store.transaction() as c:  # a pid that no longer exists: killed, resumable
        c.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (2**22 + 12345, out.run_id))
    assert not store.is_alive(store.get_run(out.run_id))


def test_teacher_student_divergence_is_a_failed_run(store):
    out = execute("teacher-student", "quick", {"eta": 1e5, "n": 8, "steps": 50}, store=store, quiet=True)
    assert (out.status, out.exit_code) == ("failed", 1)
    assert "smaller step size" in store.get_run(out.run_id)["message"]


def test_untrained_control_is_recorded_cited_and_shown_beside_the_trained_run(store, fake_experiment, monkeypatch):
    from wgflow.control import training_disabled
    from wgflow.report.html import render_report

    seen = []
    run = fake_experiment.run
    monkeypatch.setattr(
        fake_experiment, "run", lambda self, cfg, ctx: (seen.append(training_disabled()), run(self, cfg, ctx))[1]
    )
    trained = execute("fake-machinery", "quick", store=store)
    control = execute("fake-machinery", "quick", store=store, untrained=True)
    assert seen == [False, True] and not training_disabled()
    assert (store.get_run(trained.run_id)["untrained"], store.get_run(control.run_id)["untrained"]) == (0, 1)
    assert control.to_dict()["untrained"] is True
    # claims without a source of their own cite the experiment's reference
    assert {c["source"] for c in store.claims(trained.run_id)} == {fake_experiment.reference}
    # the latest *trained* run stays the experiment's run; the control is listed beside it
    assert store.latest_runs()["fake-machinery"]["run_id"] == trained.run_id
    assert store.latest_runs(untrained=True)["fake-machinery"]["run_id"] == control.run_id
    page = render_report(store)
    assert f"Negative control <code>{control.run_id}</code>" in page
    assert "these claims hold without training: they are not evidence" in page  # the fake's sum_positive does


def test_checkpoint_keys_with_dots_do_not_collide(tmp_path):
    """'eta-0.5-d3' and 'eta-0.5-d5' are two checkpoints (with_suffix once cut both to 'eta-0.npz')."""
    a = StoreCheckpointer(tmp_path / "eta-0.5-d3", every=1)
    b = StoreCheckpointer(tmp_path / "eta-0.5-d5", every=1)
    assert a.path != b.path and a.path.name == "eta-0.5-d3.npz"
    a.save({"theta": np.zeros(3)})
    b.save({"theta": np.ones(5)})
    assert a.load()["theta"].shape == (3,) and b.load()["theta"].shape == (5,)


@pytest.mark.parametrize("seed", [-1, 2**40, 1.5, True, None])
def test_run_experiment_validates_seeds_as_the_cli_does(tmp_path, seed):
    from wgflow.harness import run_experiment

    with pytest.raises(ConfigError, match=r"seed: cannot use .*expected an integer in \[0, 2147483647\]"):
        run_experiment("fake-machinery", seed=seed, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_allocation_that_fails_mid_run_is_one_line_with_a_remedy(store, monkeypatch):
    from wgflow.harness import store_context

    def huge(*a, **k):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
            "you tried to allocate 48000000000 bytes. Error code 12 (Cannot allocate memory)"
        )

    monkeypatch.setattr(store_context, "atomic_save_array", huge)
    out = execute("fake-machinery", store=store, quiet=True)
    assert out.status == "failed" and out.exit_code == 1 and "\n" not in out.message
    assert out.message.startswith("out of memory") and "lower the sizes" in out.message


def test_threads_apply_to_the_whole_run_and_are_restored(store, monkeypatch):
    """``threads`` sets torch's own thread count for the run (residual models train outside the flows)."""
    import dataclasses as dc

    import torch

    from wgflow.harness import Experiment, ExperimentResult, contract

    seen = []

    @dc.dataclass(frozen=True)
    class Cfg:
        k: int = 1  # unused

    class Threads(Experiment):
        name, title, reference, description, Config = "threads-probe", "t", "r", "d", Cfg

        def run(self, cfg, ctx):
            seen.append(torch.get_num_threads())
            return ExperimentResult()

    monkeypatch.setitem(contract._REGISTRY, Threads.name, Threads)
    old = torch.get_num_threads()
    torch.set_num_threads(2)  # a count the run must change and give back
    try:
        execute("threads-probe", "quick", store=store, threads=1)
        execute("threads-probe", "quick", store=store)
        assert seen == [1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)


def test_an_outcome_is_one_line_and_a_table_in_a_notebook(store):
    out = execute("fake-machinery", "quick", {"steps": "30", "label": "a<b"}, seed=3, store=store)
    text = repr(out)
    assert "\n" not in text and len(text) < 300, text
    assert text.startswith("RunOutcome('fake-machinery', run ") and "0 of 2 claims are evidence" in text
    page = out._repr_html_()
    assert page.count("<tr>") == 1 + len(out.result.claims)  # the header and one row per claim
    assert all(f"<td style='text-align:left'>{c.name}</td>" in page for c in out.result.claims)
    assert "<b>fake-machinery</b>" in page and "0 of 2 claims are evidence" in page
