"""Figures to share: the paper style (verdicts in captions, not titles), PNG previews beside vector files,
and wide multi-panel figures across the report's full width."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from wgflow.cli import main
from wgflow.harness import Experiment, ExperimentResult, claim_ge, contract, register
from wgflow.plotting.figures import figure_style
from wgflow.plotting.verdicts import Caption
from wgflow.report import render_report, write_report
from wgflow.report.figures import aspect
from wgflow.store import Store


@dataclass(frozen=True)
class _Cfg:
    gain: float = 2.0  # how far the fake risk falls (orders of magnitude)
    panels: int = 1  # panels side by side: 3 makes a wide figure


class _Paper(Experiment):
    name = "fake-paper-figure"
    title = "A figure bound to a claim, for a paper"
    reference = "none"
    description = "fake"
    Config = _Cfg
    presets = {"quick": {}}
    captions = {"risk_curve": Caption("The fake risk falls.", claims=("risk_drop",))}

    def run(self, cfg, ctx):
        from wgflow.plotting import subplots

        fig, axes = subplots(1, cfg.panels, figsize=(3 * cfg.panels, 2.5), squeeze=False)
        for ax in axes[0]:
            ax.plot([0, 1], [1, 10**-cfg.gain])
            ax.set(xlabel="t", ylabel="R")
        fig.suptitle(f"risk falls {cfg.gain:g} orders")
        path = ctx.save_figure("risk_curve", fig)
        return ExperimentResult([claim_ge("risk_drop", "the risk falls by an order", cfg.gain, 1.0)], {}, {"c": path})


@pytest.fixture
def paper_experiment(monkeypatch):
    for var in ("WGFLOW_FIGURE_STYLE", "WGFLOW_FIGURE_FORMAT", "WGFLOW_FIGURE_DPI"):
        monkeypatch.setenv(var, "")  # restored after the test, whatever the CLI sets
    register(_Paper)
    yield _Paper
    contract._REGISTRY.pop(_Paper.name, None)


def _run(capsys, store: Path, *options: str, gain: float = 2.0, panels: int = 1) -> Store:
    argv = [*options, "run", _Paper.name, "--store", str(store), "--set", f"gain={gain}", "--set", f"panels={panels}"]
    code = main(argv)
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert main(["runs", "--check", "--store", str(store)]) == 0  # previews and captions recorded in final form
    assert capsys.readouterr().err.endswith("1 runs, ok\n")
    return Store(store)


def _files(store: Store) -> dict[str, Path]:
    (run,) = store.runs()
    return {a["name"]: Path(a["path"]) for a in store.artifacts(run["run_id"])}


def test_the_report_style_states_verdicts_in_titles(paper_experiment, capsys, tmp_path):
    store = _run(capsys, tmp_path / "s", "--figure-format", "svg")
    files = _files(store)
    assert set(files) == {"risk_curve", "risk_curve.preview"}  # an SVG gets its PNG preview
    assert "risk falls 2 orders (claim risk_drop: PASS)" in files["risk_curve"].read_text()
    html = render_report(store)
    assert "<figcaption>The fake risk falls.</figcaption>" in html and 'class="wide"' not in html


@pytest.mark.parametrize("gain,verdict", [(2.0, "PASS"), (0.5, "FAIL")])
def test_the_paper_style_states_verdicts_in_captions(paper_experiment, capsys, tmp_path, gain, verdict):
    store = _run(capsys, tmp_path / "s", "--figure-style", "paper", "--figure-format", "svg", gain=gain)
    files = _files(store)
    svg = files["risk_curve"].read_text()
    assert f"risk falls {gain:g} orders" in svg and "(claim" not in svg  # the title states the claim alone
    assert files["risk_curve.caption"].read_text() == f"(claim risk_drop: {verdict})\n"
    html = render_report(store)
    assert f"<figcaption>The fake risk falls. (claim risk_drop: {verdict})</figcaption>" in html


def test_a_pdf_figure_shows_its_preview_linked_to_the_pdf(paper_experiment, capsys, tmp_path):
    store = _run(capsys, tmp_path / "s", "--figure-format", "pdf")
    files = _files(store)
    assert files["risk_curve"].suffix == ".pdf" and files["risk_curve.preview"] == files["risk_curve"].with_suffix(
        ".png"
    )
    page = write_report(store, tmp_path / "out" / "r.html").read_text()
    (fig,) = re.findall(r"<figure[^>]*>.*?</figure>", page)
    assert re.search(
        r'<a href="r_files/figures/[^"]+risk_curve\.pdf"><img src="r_files/figures/[^"]+risk_curve\.png"', fig
    )
    assert "(PDF)</figcaption>" in fig and "pdf-figure" not in page
    assert 'src="data:image/png;base64,' in render_report(store)  # the self-contained page embeds the preview


def test_a_wide_multi_panel_figure_takes_the_full_width(paper_experiment, capsys, tmp_path):
    store = _run(capsys, tmp_path / "s", panels=3)
    assert aspect(_files(store)["risk_curve"]) >= 1.8
    assert '<figure class="wide">' in render_report(store)
    page = write_report(store, tmp_path / "out" / "r.html").read_text()
    assert '<figure class="wide">' in page and "figure.wide{" in page


def test_aspect_reads_png_and_svg_headers(tmp_path):
    svg = tmp_path / "a.svg"
    svg.write_text('<?xml version="1.0"?>\n<svg width="400pt" height="100pt" viewBox="0 0 400 100">')
    assert aspect(svg) == 4.0
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (300).to_bytes(4, "big") + (200).to_bytes(4, "big"))
    assert aspect(png) == 1.5
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    assert aspect(tmp_path / "a.pdf") is None and aspect(tmp_path / "none.png") is None


def test_figure_style_is_checked(monkeypatch):
    monkeypatch.setenv("WGFLOW_FIGURE_STYLE", "paper")
    assert figure_style() == "paper" and figure_style("report") == "report"
    monkeypatch.delenv("WGFLOW_FIGURE_STYLE")
    assert figure_style() == "report"
    with pytest.raises(Exception, match="figure style 'poster'"):
        figure_style("poster")


def test_state_verdicts_in_the_paper_style_leaves_the_title_alone():
    from types import SimpleNamespace

    from wgflow.plotting import subplots
    from wgflow.plotting.figures import figure_problems
    from wgflow.plotting.verdicts import bind_claims, state_verdicts, verdict_problems

    fig, ax = subplots(figsize=(3, 2.5))
    ax.plot([0, 1], [1, 0.1])
    ax.set(xlabel="t", ylabel="R", title="risk falls (claim risk_drop: FAIL)")  # a verdict stated before goes
    bind_claims(fig, ["risk_drop"])
    claim = SimpleNamespace(name="risk_drop", passed=True, verdict="evidence")
    assert state_verdicts(fig, [claim], "paper") == "(claim risk_drop: EVIDENCE)"
    assert ax.get_title() == "risk falls" and figure_problems(fig) == verdict_problems(fig) == []  # in the caption
