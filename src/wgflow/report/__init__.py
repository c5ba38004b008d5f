"""The static HTML report of a store: contents, one section per experiment, one page per run, an index of runs.

:func:`write_report` writes the page, and beside it ``<name>_files/`` with the figures (separate
files, relative links, lazily loaded) and one page per run; no scripts, nothing fetched from the
network, maths rendered as MathML (:mod:`wgflow.report.maths`, docstrings as prose by
:mod:`wgflow.report.prose`). :func:`render_report` returns the main page alone with the figures
embedded (a single self-contained string). Every string that comes from a config, a run or a claim
is HTML-escaped. An experiment's title, description, reference and figure captions are read from
the store, where the runner recorded them (:meth:`wgflow.store.Store.experiment`); a figure without
a caption shows its humanised artifact name.
"""

from .html import render_report, write_report

__all__ = ["render_report", "write_report"]
