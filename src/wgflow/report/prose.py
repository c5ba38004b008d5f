r"""One line of text (a title, a caption) as HTML: its inline markup rendered, everything else escaped.

Understood: inline ``:math:`...``` and ``$...$``; simple inline powers and indices such as ``n^{-1/2}``,
``n^-1`` or ``W_2`` (MathML); ````code````, ``*emphasis*``. It never raises. Whole docstrings and
descriptions are rendered by docutils: :mod:`wgflow.report.rest`.
"""

from __future__ import annotations

import html
import re

from .maths import to_mathml

__all__ = ["inline"]

_INLINE = re.compile(
    r"(?P<code>``(?P<c>[^`]+)``)"
    r"|(?P<role>:math:`(?P<m>[^`]+)`)"
    r"|(?P<dollar>\$(?P<d>[^$\n]+)\$)"
    r"|(?P<pow>(?<![\w\\])(?:[A-Za-z]|\\?[a-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\^(?:\{[^{}\s]+\}|-?\d+(?:/\d+)?))"
    r"|(?P<sub>(?<![\w\\])[A-Z]_\d\b)"
    r"|(?P<em>(?<![\w*])\*(?P<e>[^*\s][^*]*?)\*(?![\w*]))"
)


def inline(text: str) -> str:
    """One line or paragraph of text with its inline markup rendered (everything else escaped)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()], quote=False))
        if m.group("code"):
            out.append(f"<code>{html.escape(m.group('c'), quote=False)}</code>")
        elif m.group("role"):
            out.append(to_mathml(m.group("m")))
        elif m.group("dollar"):
            out.append(to_mathml(m.group("d")))
        elif m.group("pow") or m.group("sub"):
            out.append(to_mathml(m.group(0)))
        else:
            out.append(f"<em>{html.escape(m.group('e'), quote=False)}</em>")
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)
