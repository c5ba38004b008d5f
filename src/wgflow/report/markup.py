"""HTML pieces shared by the report's sections: escaping and tables."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

__all__ = ["e", "table"]


def e(x: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape("" if x is None else str(x), quote=True)


def table(header: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "", attrs: str = "") -> str:
    """A table of ``rows`` of already-escaped cell HTML under an escaped ``header``; ``attrs`` are
    further attributes of the ``<table>`` tag (starting with a space)."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(f'<td>{c}</td>' for c in r)}</tr>" for r in rows)
    return f'<table class="{e(cls)}"{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
