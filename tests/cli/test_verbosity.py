"""-q / -v: the CLI's informational stderr lines through `logging`; errors stay one line."""

from __future__ import annotations

import re

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


def test_progress_bars_auto_on_a_terminal_always_or_never_when_asked(capsys, tmp_path, monkeypatch):
    """--progress always draws the runs' tqdm bars off a terminal too (a CI log); never and --json hide them."""
    from wgflow.harness import runner
    from wgflow.harness.store_context import StoreContext
    from wgflow.store import Store

    seen = []
    real = runner.execute
    monkeypatch.setattr(runner, "execute", lambda *a, **k: seen.append(k["show_progress"]) or real(*a, **k))
    for flags, expected in (((), None), (("--progress", "always"), True), (("--progress", "never"), False)):
        code, *_ = run(capsys, "run", "fake-machinery", "--set", "steps=5", "--store", tmp_path / "s", *flags)
        assert code == 0 and seen[-1] is expected, flags
    code, *_ = run(capsys, "run", "fake-machinery", "--set", "steps=5", "--store", tmp_path / "s", "--json")
    assert seen[-1] is False
    code, *_ = run(capsys, "-q", "run", "fake-machinery", "--set", "steps=5", "--store", tmp_path / "s")
    assert seen[-1] is False
    # what the runner does with True: a text bar on stderr although stderr is no terminal here
    with Store.using(tmp_path / "p") as store:
        rid = store.create_run("fake-machinery", {}, 0, preset="quick")
        ctx = StoreContext(store, rid, 0, show_progress=True, quiet=True)
        list(ctx.progress(range(3), desc="steps"))
    assert re.search(r"steps: +0%\|[ #]*\| 0/3", capsys.readouterr().err)
