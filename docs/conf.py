"""Sphinx configuration of the wgflow docs (``make docs``: ``sphinx -W --keep-going -E -b html docs docs/_build/html``).

Nothing is downloaded or executed at build time: the notebooks are rendered as committed (the test
suite executes them), MathJax is loaded by the reader's browser, and the API and experiment pages are
generated from the package by the extension in ``_ext/wgflow_docs``.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))  # the wgflow of this tree, installed or not

import wgflow  # noqa: E402

project = "wgflow"
author = "wgflow developers"
copyright = "wgflow developers, MIT licence"
version = release = wgflow.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",  # Markdown (MyST) pages and the notebooks, not executed
    "wgflow_docs",  # the experiment pages and the API pages, generated from the package
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "examples", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# numpydoc-style docstrings, read by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autosummary_generate = False  # the API pages are written by wgflow_docs, one per package

# MyST: maths in Markdown, heading anchors for in-page links; notebooks rendered as committed
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"

html_theme = "furo"
html_title = f"wgflow {release}"
html_static_path: list[str] = []
