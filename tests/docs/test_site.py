"""The docs site's generated pages: one per registered experiment, robust to a description that is not reST.

``make docs`` (run by ``make test``) builds the whole site with warnings as errors; these tests check the
generator (the extension docs/_ext/wgflow_docs) on its own, and build a one-page site around the experiment directive.
"""

import html
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from wgflow.harness import Experiment, ExperimentResult, contract, list_experiments

pytest.importorskip("sphinx")  # the `docs` extra (make docs installs it)

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"


@pytest.fixture(scope="module")
def ext():
    sys.path.insert(0, str(EXT))  # as docs/conf.py does; Sphinx loads the extension by this name
    try:
        yield importlib.import_module("wgflow_docs")
    finally:
        sys.path.remove(str(EXT))
        for name in [m for m in sys.modules if m == "wgflow_docs" or m.startswith("wgflow_docs.")]:
            del sys.modules[name]


def test_one_page_per_registered_experiment(ext, tmp_path):
    (tmp_path / "retired.rst").write_text(".. wgflow-experiment:: retired\n")  # a page left from a removed experiment
    names = ext.experiment_pages(tmp_path)
    assert names == [e.name for e in list_experiments()] and len(names) >= 11
    assert sorted(p.stem for p in tmp_path.glob("*.rst")) == sorted([*names, "index"])
    index = (tmp_path / "index.rst").read_text()
    for name in names:
        assert (tmp_path / f"{name}.rst").read_text() == f".. wgflow-experiment:: {name}\n"
        assert f"   {name}\n" in index


def test_bars_of_prose_are_escaped_and_maths_kept(ext):
    lines = [
        "the movement |theta_T - theta_0| / |theta_0|, ``|x|`` and :math:`|x|^2`",
        "",
        ".. math::",
        "",
        "    |w|^2 = 1",
        "",
        "after |w|",
    ]
    assert ext.escape_bars(lines) == [
        r"the movement \|theta_T - theta_0\| / \|theta_0\|, ``|x|`` and :math:`|x|^2`",
        "",
        ".. math::",
        "",
        "    |w|^2 = 1",
        "",
        r"after \|w\|",
    ]


def test_numbered_references_become_paragraphs(ext):
    lines = [".. rubric:: References", "", "[1] Villani, C. (2009).", "    Optimal transport.", "[2] Peyré (2019)."]
    assert ext.references_as_paragraphs(lines) == [
        ".. rubric:: References",
        "",
        "[1] Villani, C. (2009).",
        "Optimal transport.",
        "",
        "[2] Peyré (2019).",
    ]


@dataclass(frozen=True)
class _Config:
    n: int = 1


class _Broken(Experiment):
    name = "docs-broken-description"
    title = "A description that is not reST"
    reference = "nobody, 2026"
    description = "Plain text: |w| and *unclosed, ``also unclosed,\n  and an indented line."
    Config = _Config

    def run(self, cfg, ctx):  # pragma: no cover - never run
        return ExperimentResult()


def test_experiment_page_builds_without_warnings(ext, tmp_path, monkeypatch):
    """A one-page site: a real experiment with its claims, and one whose description falls back to a literal block."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    monkeypatch.setitem(contract._REGISTRY, _Broken.name, _Broken)
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXT)!r})\nextensions = ['wgflow_docs', 'sphinx.ext.mathjax']\n"
        "wgflow_generate_pages = False\n"
    )
    (src / "index.rst").write_text(
        ".. wgflow-experiment:: teacher-student\n\n.. wgflow-experiment:: docs-broken-description\n"
    )
    out = tmp_path / "html"
    with docutils_namespace():  # the directives and roles it registers do not outlive the build
        app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", warningiserror=True, status=None)
        app.build()
    page = (out / "index.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "risk_drop" in text and "CI > 2" in text and "t-mean" in text  # the registered claim
    assert "first layer frozen (random features" in text  # its null
    assert '<pre class="literal-block">Plain text: |w| and *unclosed' in page  # the literal fallback
    assert "No claims are pre-registered yet" in text
