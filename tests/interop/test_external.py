"""An experiment defined outside wgflow (the docs example) goes through the CLI, the store and the report."""

import csv
import io
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from wgflow.cli import main
from wgflow.harness import contract, get_experiment, list_experiments, plugins, run_experiment
from wgflow.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "my_experiment.py"


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch):
    """External experiments registered by a test must not leak into other tests' registry walks."""
    monkeypatch.setenv(plugins.ENV, "")  # recorded, so that main()'s --experiments-path is undone after the test
    monkeypatch.delenv(plugins.ENV)
    plugins.load_experiments()  # the built-ins first: their modules register once per process, so they are kept
    plugins._entry_points_done = False  # a test may add an entry point of its own
    saved = dict(contract._REGISTRY)
    yield
    contract._REGISTRY.clear()
    contract._REGISTRY.update(saved)
    plugins._loaded.clear()
    plugins._entry_points_done = False
    for name in [m for m in sys.modules if m.startswith("wgflow_external_")]:
        del sys.modules[name]


def _teacher_csv(path, n=120, header=True):
    g = np.random.default_rng(0)
    x = g.normal(size=(n, 2))
    y = np.maximum(x @ [1.0, -0.5], 0) - 0.5 * np.maximum(x @ [0.2, 1.0], 0)
    with open(path, "w") as f:
        if header:
            f.write("x1,x2,y\n")
        for row in np.column_stack([x, y]):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return path


def test_docs_example_runs_end_to_end_through_cli_store_and_report(tmp_path, capsys, one_torch_thread):
    store = tmp_path / "runs"
    assert main(["run", str(EXAMPLE), "--store", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["experiment"] == "my-data-flow" and out["status"] == "completed"
    assert all(c["passed"] for c in out["claims"]) and len(out["claims"]) == 2
    assert main(["--experiments-path", str(EXAMPLE), "list"]) == 0
    assert "my-data-flow" in capsys.readouterr().out
    # the same as the built-ins: a stored run with claims, figures and metrics, and a report section
    s = Store(store)
    (run,) = s.runs()
    assert s.claims(run["run_id"]) and s.summary_metrics(run["run_id"])["w2_from_start"] > 0
    assert {a["name"] for a in s.artifacts(run["run_id"], kind="figure")} == {"my_particles", "my_flow"}
    html_path = tmp_path / "r.html"
    assert main(["report", "--store", str(store), "--out", str(html_path)]) == 0
    html = html_path.read_text()
    assert 'id="exp-my-data-flow"' in html and "A mean-field ReLU network fits a data set" in html
    assert 'data-claims="2" data-passed="2"' in html


def test_data_file_from_the_command_line(tmp_path, capsys, one_torch_thread):
    data = _teacher_csv(tmp_path / "points.csv")
    store = tmp_path / "runs"
    rc = main(["run", str(EXAMPLE), "--store", str(store), "--set", f"data={data}", "--set", "steps=200"])
    assert rc == 0
    (run,) = Store(store).runs()
    assert run["config"]["data"] == str(data) and run["status"] == "completed"
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,five,6\n")
    capsys.readouterr()
    assert main(["run", str(EXAMPLE), "--store", str(store), "--set", f"data={bad}"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: not a table of numbers" in err and len(err.strip().splitlines()) == 1
    assert len(Store(store).runs()) == 1  # nothing written for the bad config


@pytest.mark.slow  # forkserver worker imports torch and wgflow (~30 s on a busy 2-core machine)
def test_env_var_folder_and_sweep(tmp_path, monkeypatch, capsys, one_torch_thread):
    monkeypatch.setenv(plugins.ENV, str(EXAMPLE.parent))
    assert "my-data-flow" in [e.name for e in list_experiments()]
    store = tmp_path / "runs"
    rc = main(
        ["sweep", "my-data-flow", "--grid", "n=8,16", "--set", "steps=50", "--workers", "1", "--store", str(store)]
    )
    assert rc == 0, capsys.readouterr()
    runs = Store(store).runs()
    assert sorted(r["config"]["n"] for r in runs) == [8, 16]
    assert all(r["status"] == "completed" and r["sweep_id"] for r in runs)


def test_entry_point_of_an_installed_package(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent("""
        from dataclasses import dataclass
        from wgflow.experiments import Experiment, ExperimentResult, claim_true

        @dataclass(frozen=True)
        class Cfg:
            k: int = 2

        class Squares(Experiment):  # not decorated: the entry point names the class
            name = "ep-squares"
            title = "squares"
            reference = "none"
            description = "k squared"
            Config = Cfg

            def run(self, cfg, ctx):
                return ExperimentResult([claim_true("sq", "k*k", cfg.k ** 2, cfg.k ** 2 == 4)])
    """)
    )
    dist = tmp_path / "mypkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[wgflow.experiments]\nsquares = mypkg:Squares\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_experiment("ep-squares").title == "squares"
    assert run_experiment("ep-squares", out_dir=tmp_path / "o").claims[0].passed


def test_broken_or_ambiguous_files_are_one_line_errors(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    assert main(["run", str(broken)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"wgflow: error: cannot load experiments from {broken}: RuntimeError: nope"
    )
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["run", str(empty)]) == 2
    assert "registers 0 experiments" in capsys.readouterr().err
    assert main(["--experiments-path", str(tmp_path / "missing"), "list"]) == 2
    assert "neither a .py file nor a folder" in capsys.readouterr().err


def test_runs_csv_parses_back_with_the_same_rows(tmp_path, capsys, one_torch_thread):
    store = tmp_path / "runs"
    for seed in (0, 1):
        assert main(["run", str(EXAMPLE), "--store", str(store), "--seed", str(seed), "--set", "steps=60"]) in (0, 1)
    capsys.readouterr()
    assert main(["runs", "--store", str(store), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(text)))
    from wgflow.interop.export import run_records

    want = run_records(Store(store))
    assert [r["run_id"] for r in rows] == [w["run_id"] for w in want] and len(rows) == 2
    for r, w in zip(rows, want):
        assert set(r) == set(w)
        for k, v in w.items():
            if isinstance(v, bool):
                assert r[k] == str(v)
            elif isinstance(v, float):
                assert float(r[k]) == v  # full precision
            else:
                assert r[k] == ("" if v is None else str(v))
    assert main(["runs", "--store", str(store), "--format", "json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [w["run_id"] for w in want]
    assert main(["runs", "--store", str(store), "--format", "table"]) == 0
    assert "my-data-flow" in capsys.readouterr().out
