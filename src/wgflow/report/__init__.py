"""The static HTML report of a store: one section per experiment, claims, figures, an index of runs.

:func:`write_report` writes one self-contained file (PNG figures are embedded as
base64 data URIs, the style sheet is inline, no scripts): it can be mailed or opened
from any directory. Every string that comes from a config, a run or a claim is
HTML-escaped.
"""

from .html import render_report, write_report

__all__ = ["render_report", "write_report"]
