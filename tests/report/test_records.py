"""Records of runs at the sources' settings (results/) and the README table generated from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wgflow.cli import main
from wgflow.errors import ConfigError
from wgflow.harness.configs import preset_config as P
from wgflow.harness.runner import execute
from wgflow.report.records import (
    README_END,
    README_START,
    read_headlines,
    read_records,
    readme_section,
    stale_keys,
    sync_readme,
    write_record,
)

ROOT = Path(__file__).resolve().parents[2]
HEADLINES = '[fake-machinery]\nsource = "Nobody 2026"\nstates = "the sum | is positive"\nclaims = ["sum_positive"]\n'


@pytest.fixture
def recorded(tmp_path, store, monkeypatch):
    monkeypatch.setenv("WGFLOW_FIGURE_FORMAT", "svg")
    out = execute("fake-machinery", "full", seed=3, store=store, threads=1, quiet=True)
    results = tmp_path / "results"
    results.mkdir()
    (results / "headlines.toml").write_text(HEADLINES)
    return store, out.run_id, results


def test_a_record_holds_what_a_referee_needs_and_no_path_of_the_machine(recorded, tmp_path):
    store, run_id, results = recorded
    path = write_record(store, run_id, P, results)
    assert path == results / "fake-machinery" / "full" / "record.json"
    text = path.read_text()
    assert str(tmp_path) not in text  # figures are named relative to the record
    r = json.loads(text)
    assert r["command"] == "wgflow --figure-format svg run fake-machinery --preset full --seed 3 --threads 1"
    assert r["config"]["steps"] == 400 and r["preset"] == "full" and r["seed"] == 3
    assert r["git_revision"] == store.get_run(run_id)["git_rev"] and r["versions"]["torch"]
    assert r["compute"]["cpu_s"] > 0 and r["compute"]["wall_s"] > 0 and r["compute"]["threads"] == "1"
    assert [c["name"] for c in r["claims"]] == ["sum_positive", "sum_small"]
    assert all("null" in c and "verdict" in c for c in r["claims"])
    assert r["evidence"].startswith("0 of 2 claims are evidence")
    assert r["figures"] == ["figures/fake_curve.svg"]
    assert (path.parent / "figures" / "fake_curve.svg").read_text().lstrip().startswith("<?xml")
    assert r["previews"] == ["figures/fake_curve.png"]  # a vector figure's PNG preview travels with it
    assert (path.parent / "figures" / "fake_curve.png").read_bytes().startswith(b"\x89PNG")
    assert not any(k.startswith("run.") for k in r["metrics"]) and r["metrics"]["final"] == 400.0


def test_the_readme_section_is_written_between_markers_and_checked(recorded):
    store, run_id, results = recorded
    write_record(store, run_id, P, results)
    readme = results.parent / "README.md"
    readme.write_text("# project\n\nintro\n")
    assert sync_readme(readme, P, results) is True
    text = readme.read_text()
    assert text.startswith("# project\n\nintro\n") and README_START in text and README_END in text
    row = next(line for line in text.splitlines() if line.startswith("| `fake-machinery` (full)"))
    assert "](" not in text  # no links: the docs site includes the README and cannot resolve one out of docs/
    assert "the sum \\| is positive" in row  # a pipe in a cell does not break the table
    assert "`sum_positive` 400" in row and "**pass**" in row and "0 of 2 claims are evidence" in row
    assert "stale" not in row and "study.md" not in row
    assert sync_readme(readme, P, results, check=True) is False and sync_readme(readme, P, results) is False
    readme.write_text(text.replace("intro", "intro, edited") + "\nafter\n")
    assert sync_readme(readme, P, results, check=True) is False  # text outside the markers is the author's
    (results / "fake-machinery" / "study.md").write_text("# why\n")
    assert "why: `results/fake-machinery/study.md`" in readme_section(P, results)  # the study of the verdicts


def test_a_record_whose_config_left_the_preset_is_stale_and_the_readme_says_so(recorded):
    store, run_id, results = recorded
    path = write_record(store, run_id, P, results)
    assert stale_keys(json.loads(path.read_text()), P) == []
    r = json.loads(path.read_text())
    r["config"]["steps"] = 399
    r["config"]["gone"] = 1
    path.write_text(json.dumps(r))
    assert stale_keys(read_records(results)[("fake-machinery", "full")], P) == ["gone", "steps"]
    assert "**stale**: gone, steps differ from the `full` preset" in readme_section(P, results)


def test_only_completed_trained_runs_are_records(tmp_path, store):
    failed = execute("fake-machinery", overrides={"mode": "error"}, store=store, quiet=True)
    with pytest.raises(Exception, match="not completed"):
        write_record(store, failed.run_id, P, tmp_path)
    control = execute("fake-machinery", store=store, untrained=True, quiet=True)
    with pytest.raises(Exception, match="negative control"):
        write_record(store, control.run_id, P, tmp_path)
    assert not any(tmp_path.glob("**/record.json"))


def test_the_cli_records_a_run_and_checks_the_readme(recorded, tmp_path, capsys):
    store, run_id, results = recorded
    readme = tmp_path / "README.md"
    readme.write_text("# x\n")
    args = ["--store", str(store.root), "--dir", str(results)]
    assert main(["results", "record", run_id, *args]) == 0
    assert capsys.readouterr().out.strip() == str(results / "fake-machinery" / "full" / "record.json")
    check = ["results", "readme", "--dir", str(results), "--readme", str(readme), "--check"]
    assert main(check) == 1 and "out of step" in capsys.readouterr().out
    assert main(check[:-1]) == 0 and main(check) == 0
    assert main(["results", "record", "nope", *args]) == 2
    assert "nope" in capsys.readouterr().err


def test_the_repository_readme_is_in_step_with_results():
    """The README's table is the one `wgflow results readme` makes from results/ (stale records marked)."""
    assert sync_readme(ROOT / "README.md", P, ROOT / "results", check=True) is False, (
        "README.md is out of step with results/: run `wgflow results readme`"
    )


def test_the_repository_records_are_whole_and_their_headlines_name_real_claims():
    from wgflow.harness import get_experiment
    from wgflow.harness.registration import load

    records, headlines = read_records(ROOT / "results"), read_headlines(ROOT / "results")
    for name, head in headlines.items():
        registered = load(get_experiment(name)).claims
        assert set(head["claims"]) <= set(registered), f"{name}: headline claims not registered"
        assert head["source"] and head["states"]
    for (name, preset), r in records.items():
        assert name in headlines, f"{name}: no headline"
        assert r["git_revision"] and r["command"].startswith("wgflow ") and not r["untrained"]
        assert f"--preset {preset}" in r["command"]
        for fig in r["figures"] + r["previews"]:
            assert (ROOT / "results" / name / preset / fig).is_file(), f"{name} ({preset}): {fig} missing"


def test_an_experiment_keeps_a_record_per_preset_and_a_misplaced_record_is_refused(recorded):
    store, run_id, results = recorded
    path = write_record(store, run_id, P, results)
    other = results / "fake-machinery" / "other"
    shutil.copytree(path.parent, other)
    r = json.loads((other / "record.json").read_text())
    r["preset"] = "other"
    (other / "record.json").write_text(json.dumps(r))
    assert set(read_records(results)) == {("fake-machinery", "full"), ("fake-machinery", "other")}
    rows = [line for line in readme_section(P, results).splitlines() if line.startswith("| `fake-machinery`")]
    assert [row.split("|")[1].strip() for row in rows] == ["`fake-machinery` (full)", "`fake-machinery` (other)"]
    assert "**stale**: preset" in rows[1]  # no preset "other" is registered
    r["preset"] = "full"
    (other / "record.json").write_text(json.dumps(r))
    with pytest.raises(ConfigError, match="not of its folder"):
        read_records(results)


def test_a_results_folder_copy_reads_the_same(tmp_path):
    shutil.copytree(ROOT / "results", tmp_path / "results")
    assert readme_section(P, tmp_path / "results") == readme_section(P, ROOT / "results")
