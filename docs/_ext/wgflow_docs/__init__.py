"""Sphinx extension of the wgflow docs: pages generated at build time from the package itself.

* ``experiments/``: one page per registered experiment (:func:`wgflow.harness.list_experiments`), its
  title, source, description and pre-registered claims (:func:`wgflow.harness.registration.load`);
  the page holds one ``wgflow-experiment`` directive, which builds the nodes from the registry (no reST
  is assembled from strings, so no field of a claim can break the page);
* ``api/``: one page per public package, its docstring, a table of its public names and the
  ``automodule`` of each of its modules, every object documented once, in the module defining it.

The experiment packages are left out of ``api/``: their generated pages describe them. A description
(or a claim's reason) whose reST does not parse cleanly is shown as a literal block instead; the
experiments index (``wgflow-experiment-index``) is a table built from the registry too.

Docstrings are written to read in a terminal as well; two of their habits are translated for reST when
autodoc reads them: ``|x|`` in prose (a norm, not a substitution) and numbered references whose entries
continue on indented lines (POT's style).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .api import api_pages
from .experiments import ExperimentDirective, ExperimentIndexDirective, experiment_pages
from .text import escape_bars, references_as_paragraphs

__all__ = ["api_pages", "escape_bars", "experiment_pages", "references_as_paragraphs", "setup"]


def _clean_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    references_as_paragraphs(lines)
    escape_bars(lines)


def _generate(app: Any) -> None:
    if not app.config.wgflow_generate_pages:
        return
    src = Path(app.srcdir)
    experiment_pages(src / "experiments")
    api_pages(src / "api")


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")  # its docstring event
    app.add_config_value("wgflow_generate_pages", True, "env")  # False: only the directive (the tests)
    app.add_directive("wgflow-experiment", ExperimentDirective)
    app.add_directive("wgflow-experiment-index", ExperimentIndexDirective)
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _clean_docstring, priority=900)  # after napoleon (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
