"""Hostile command lines: every one exits 2 with exactly one line on stderr, no traceback, nothing written.

The cases are every experiment's every config key with values outside its declared domain (below
the bound, not finite, overflowing, malformed, empty or unordered tuples, unknown choices), the
hostile inputs of issue 18 (``batch_div=0``, ``eta=inf``, seed ``2**63``, ...), and bad usage of
``run``, ``sweep``, ``reproduce`` and ``runs``. They run in-process through ``main(argv)``; a few
go through a real ``wgflow`` subprocess. "Nothing written" means the working directory (holding
the default store) and the ``--store`` folder stay empty.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wgflow.cli import main
from wgflow.domains import MAX_SEED, Bool, Choice, Float, Floats, Int, Ints, Text
from wgflow.harness import list_experiments

EXPERIMENTS = [e for e in list_experiments() if e.__module__.startswith("wgflow.")]


def _bad_values(dom) -> list[str]:
    """Command-line spellings outside a domain, chosen from its declared kind and bounds."""
    if isinstance(dom, Int):
        out = ["1.5", "abc", "", str(2**63)]
        return out + ([str(dom.lo - 1)] if dom.lo is not None else [])
    if isinstance(dom, Float):
        out = ["nan", "inf", "-inf", "1e999", "abc", ""]
        if dom.lo is not None:
            out.append(repr(dom.lo) if dom.open_lo else repr(dom.lo - 1.0))
        if dom.hi is not None:
            out.append(repr(dom.hi) if dom.open_hi else repr(dom.hi + 1.0))
        return out
    if isinstance(dom, Bool):
        return ["maybe", "2", ""]
    if isinstance(dom, Choice):
        return ["no-such-choice", ""]
    if isinstance(dom, Text):
        return ["a\x01b", "x" * 5000]
    assert isinstance(dom, (Ints, Floats)), dom
    lo = dom.elem.lo if dom.elem.lo is not None else 0
    step = 1 if isinstance(dom, Ints) else 0.5
    ok = [lo + 1 + step * i for i in range(max(dom.min_len, 2))]
    out = ["a,b", ",".join(map(str, [*ok[:-1], "nan"]))]
    if dom.min_len >= 1:  # "" and "()" are the empty tuple, a value where the domain allows none
        out += ["()", ""]
    if dom.min_len >= 2:
        out.append(str(ok[0]))  # one value too few
    if dom.increasing:
        out.append(",".join(map(str, ok[::-1])))
    if dom.elem.lo is not None:
        out.append(",".join(map(str, [dom.elem.lo - 1, *ok[1:]])))
    return out


def _config_cases():
    for exp in EXPERIMENTS:
        for key, dom in exp.Config.domains.items():
            for v in _bad_values(dom):
                yield pytest.param(["run", exp.name, "--set", f"{key}={v}"], id=f"{exp.name}-{key}={v[:12]!r}")


ISSUE_CASES = [  # the hostile inputs of issue 18 that used to crash or complete
    ["run", "rve-3spin", "--set", "batch_div=0"],
    ["run", "teacher-student", "--set", "eta=inf"],
    ["run", "teacher-student", "--seed", str(2**63)],
    ["run", "consistency", "--set", "n_values=1,2"],
    ["run", "resnet-deep-limit", "--set", "k=0"],
    ["run", "resnet-geodesic", "--set", "m=-1"],
    ["run", "lazy-vs-active", "--set", "n_train=0"],
    ["run", "rve-3spin", "--set", "dims="],
    ["run", "teacher-student", "--set", "eta=1e400"],
    ["run", "mmn-gaussians", "--set", "hist_times=()"],
    ["run", "rve-3spin", "--set", "n_values=64,32"],
    ["run", "consistency", "--set", "eta=5", "--set", "T=1"],
    ["run", "mmn-gaussians", "--set", "t1=2", "--set", "t2=1"],
    ["run", "resnet-deep-limit", "--set", "Ls=4,8,17"],
    ["run", "resnet-geodesic", "--set", "gammas=0.001,0.01"],
    ["run", "lazy-vs-active", "--set", "m=7"],
]
USAGE_CASES = [
    ["run"],
    ["run", "no-such-experiment"],
    ["run", "teacher-student", "--set", "n"],
    ["run", "teacher-student", "--set", "=3"],
    ["run", "teacher-student", "--set", "bogus=1"],
    ["run", "teacher-student", "--seed", "-1"],
    ["run", "teacher-student", "--seed", str(MAX_SEED + 1)],
    ["run", "teacher-student", "--seed", "abc"],
    ["run", "teacher-student", "--checkpoint-every", "0"],
    ["run", "--resume", "no-such-run"],
    ["run", "--resume", "x", "--set", "n=3"],
    ["run", "--resume", "x", "--seed", "3"],
    ["run", "teacher-student", "--force"],
    ["run", "teacher-student", "--quick", "--full"],
    ["run", "teacher-student", "--no-such-flag"],
    ["no-such-command"],
    [],
    ["reproduce", "--seed", "-1"],
    ["reproduce", "--seed", str(2**63)],
    ["runs", "--check"],
    ["runs", "--bogus"],
    ["sweep", "no-such-experiment", "--grid", "n=1,2"],
    ["sweep", "teacher-student", "--grid", "n=0,8"],
    ["sweep", "teacher-student", "--grid", "n"],
    ["sweep", "teacher-student", "--grid", "n="],
    ["sweep", "teacher-student", "--grid", "n=8", "--grid", "n=16"],
    ["sweep", "teacher-student", "--grid", "eta=inf"],
    ["sweep", "teacher-student", "--seeds", "a-b"],
    ["sweep", "teacher-student", "--seeds", "-1"],
    ["sweep", "teacher-student", "--seeds", f"0-{MAX_SEED}"],
    ["sweep", "teacher-student", "--workers", "0"],
    ["sweep", "teacher-student", "--grid", "n=8", "--set", "n=16"],
    ["sweep", "teacher-student", "--set", "steps=0"],
    ["sweep", "teacher-student", "--grid", "bogus=1,2"],
    ["sweep", "teacher-student", "--seeds", ","],
    ["sweep", "teacher-student", "--threads", "0"],
    ["run", "teacher-student", "--threads", "0"],
    ["reproduce", "--threads", "0"],
    # issue 30: repeated keys, unknown presets, unreachable schedulers, stores that do not exist
    ["run", "teacher-student", "--set", "n=3", "--set", "n=4"],
    ["reproduce", "--preset", "bogus"],
    ["sweep", "teacher-student", "--dask", "tcp://256.0.0.1:99999"],
    ["sweep", "teacher-student", "--dask", "tcp://256.0.0.1:8786"],
    ["sweep", "teacher-student", "--dask", "tcp://scheduler"],
    ["sweep", "teacher-student", "--dask", "http://scheduler:8786"],
    ["sweep", "teacher-student", "--set", "n=8", "--set", "n=16"],
    ["runs"],
    ["runs", "--format", "csv"],
    ["runs", "--json"],
    ["report"],
]


def _assert_rejected(code, out, err, root):
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("wgflow: error: "), repr(err)
    assert "Traceback" not in err and out == "", (out, err)
    assert list(root.iterdir()) == [], sorted(p.name for p in root.iterdir())  # no store, no file


def _run_in_process(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WGFLOW_STORE", raising=False)  # the default store would be ./wgflow-runs
    return tmp_path


@pytest.mark.parametrize("argv", [*_config_cases(), *ISSUE_CASES, *USAGE_CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(argv, empty_cwd, capsys):
    _assert_rejected(*_run_in_process(argv, capsys), empty_cwd)


def test_bad_input_with_an_explicit_store_does_not_create_it(tmp_path, capsys):
    store = tmp_path / "store"
    for argv in (
        ["run", "teacher-student", "--set", "n=0"],
        ["run", "--resume", "nope"],
        ["runs", "--check"],
        ["runs"],
        ["report"],
        ["sweep", "teacher-student", "--grid", "n=0,1"],
        ["sweep", "teacher-student", "--dask", "tcp://256.0.0.1:99999"],
    ):
        code, out, err = _run_in_process([*argv, "--store", str(store)], capsys)
        _assert_rejected(code, out, err, tmp_path)


def test_there_are_at_least_200_cases_covering_every_experiment():
    cases = list(_config_cases())
    assert len(cases) + len(ISSUE_CASES) + len(USAGE_CASES) >= 200
    assert {c.values[0][1] for c in cases} == {e.name for e in EXPERIMENTS}


@pytest.mark.parametrize(
    "argv",
    [
        ISSUE_CASES[0],
        ISSUE_CASES[2],
        ["run", "--resume", "no-such-run"],
        ["sweep", "teacher-student", "--workers", "0"],
        ["run", "teacher-student", "--seed", "x"],
    ],
)
def test_bad_input_through_a_real_process(argv, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WGFLOW_STORE"}
    p = subprocess.run(
        [sys.executable, "-m", "wgflow.cli", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    _assert_rejected(p.returncode, p.stdout, p.stderr, tmp_path)


def test_an_unreachable_dask_scheduler_is_one_line_before_the_store_exists(empty_cwd, capsys, monkeypatch):
    monkeypatch.setattr("wgflow.parallel.executors._CONNECT_TIMEOUT_S", 1)  # nothing listens on port 1
    code, out, err = _run_in_process(["sweep", "teacher-student", "--dask", "tcp://127.0.0.1:1"], capsys)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in err and "--dask local" in err
    _assert_rejected(code, out, err, empty_cwd)
