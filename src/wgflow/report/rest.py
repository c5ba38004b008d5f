r"""Docstrings and descriptions as HTML, by docutils (a real reStructuredText renderer).

:func:`docstring_to_html` renders paragraphs, lists, sections, tables, literal blocks, ``*emphasis*``,
``**strong**`` and maths (``.. math::`` and ``:math:``, as MathML); the cross-reference roles of the
docs site (``:class:``, ``:func:``, ``:mod:``, ...) become code, showing what Sphinx would show
(``~a.b.C`` as ``C``, ``title <target>`` as ``title``). Text written for the terminal too keeps its
bars: ``|x|`` in prose is escaped (:func:`escape_bars`) instead of read as a substitution. Where
docutils warns (markup it cannot read, maths it cannot convert) the text is shown verbatim, in a
``<pre class="docstring">``, never half-rendered. Raw HTML and file inclusion are switched off.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from typing import Any

__all__ = ["docstring_to_html", "escape_bars"]

# --------------------------------------------------------------------------- plain-text bars
# wgflow's docstrings and descriptions are read in a terminal too, where |x| is a norm or an absolute
# value; in reST it would be a substitution reference. Bars in prose are escaped; maths (``.. math::``
# blocks, :math:`...`), literals and literal blocks are left as written.
_VERBATIM = re.compile(r"\.\. (math|code|code-block|sourcecode|literalinclude|doctest|testcode|parsed-literal)::")
_INLINE_KEEP = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2})")


def escape_bars(lines: list[str]) -> list[str]:
    """``lines`` of reST with every ``|`` of prose escaped (``\\|``), in place and returned."""
    block_indent: int | None = None  # inside a directive or literal block opened at this indentation
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None and (not stripped or indent > block_indent):
            continue
        block_indent = None
        if stripped.startswith(".. "):
            if _VERBATIM.match(stripped):
                block_indent = indent  # maths or code: its indented body is kept as written
            continue
        if stripped.endswith("::"):
            block_indent = indent  # the literal block that follows is kept as written
        if "|" in line:
            parts = _INLINE_KEEP.split(line)
            lines[i] = "".join(p if k % 2 else re.sub(r"(?<!\\)\|", r"\\|", p) for k, p in enumerate(parts))
    return lines


# --------------------------------------------------------------------------- rendering
_XREF_ROLES = ("class", "func", "meth", "mod", "attr", "data", "obj", "exc", "const", "ref", "doc", "term")


def _xref_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """A Sphinx cross-reference as code, showing what Sphinx shows: ``~a.b.C`` as ``C``, ``t <x>`` as ``t``."""
    from docutils import nodes, utils

    t = utils.unescape(text)
    m = re.fullmatch(r"(.+?)\s*<(.+)>", t, re.S)
    shown = m.group(1) if m else (t[1:].rsplit(".", 1)[-1] if t.startswith("~") else t.lstrip("!"))
    return [nodes.literal(rawtext, shown)], []


_ROLES_DONE = False


def _register_roles() -> None:
    global _ROLES_DONE
    if not _ROLES_DONE:
        from docutils.parsers.rst import roles

        for r in _XREF_ROLES:
            roles.register_local_role(r, _xref_role)
            roles.register_local_role(f"py:{r}", _xref_role)
        _ROLES_DONE = True


_SETTINGS: dict[str, Any] = {
    "math_output": "MathML",
    "report_level": 5,  # nothing printed; warnings are collected below
    "halt_level": 5,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "doctitle_xform": False,  # a docstring's first section title stays a section
    "initial_header_level": 4,  # under the report's <h2> experiment and <h3> parts
    "syntax_highlight": "none",
    "input_encoding": "unicode",
    "output_encoding": "unicode",
}


def _verbatim(text: str) -> str:
    return f'<pre class="docstring">{html.escape(text, quote=False)}</pre>'


def docstring_to_html(doc: str) -> str:
    """``doc`` (a docstring or description, reST) as an HTML fragment; verbatim where docutils warns."""
    from docutils.core import publish_doctree, publish_from_doctree
    from docutils.utils import Reporter

    text = textwrap.dedent((doc or "").expandtabs()).strip("\n")
    if not text.strip():
        return ""
    _register_roles()
    source = "\n".join(escape_bars(text.splitlines()))
    # TeX's \tfrac1n (one-token arguments, unbraced): docutils' MathML converter needs \tfrac{1}{n}
    source = re.sub(r"\\([td]?frac)\s*([0-9A-Za-z])\s*([0-9A-Za-z])(?![0-9A-Za-z])", r"\\\1{\2}{\3}", source)
    warnings = io.StringIO()
    try:
        tree = publish_doctree(source, settings_overrides={**_SETTINGS, "warning_stream": warnings})
        worst = max((m["level"] for m in tree.findall(_is_message)), default=0)
        if worst >= Reporter.WARNING_LEVEL:
            return _verbatim(text)
        body = publish_from_doctree(
            tree, writer_name="html5", settings_overrides={**_SETTINGS, "warning_stream": warnings}
        )
    except Exception:  # docutils never should; if it does, the text is still shown
        return _verbatim(text)
    if re.search(r"\((WARNING|ERROR|SEVERE)/\d\)", warnings.getvalue()):  # maths MathML could not convert
        return _verbatim(text)
    m = re.search(r'<main>\s*(.*?)\s*</main>|<div class="document">\s*(.*?)\s*</div>\s*</body>', body, re.S)
    if m is None:
        return _verbatim(text)
    return re.sub(r"&([A-Za-z][A-Za-z0-9]*);", _numeric_entity, m.group(1) or m.group(2))


def _numeric_entity(m: re.Match) -> str:
    """An HTML named entity (MathML's ``&ApplyFunction;``) as a numeric one: the fragment stays valid XML."""
    if m.group(1) in ("amp", "lt", "gt", "quot", "apos"):
        return m.group(0)
    char = html.unescape(m.group(0))
    return "".join(f"&#x{ord(c):x};" for c in char) if char != m.group(0) else m.group(0)


def _is_message(node: Any) -> bool:
    from docutils import nodes

    return isinstance(node, nodes.system_message | nodes.problematic) and "level" in node.attributes
