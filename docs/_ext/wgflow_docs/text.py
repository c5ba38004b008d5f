"""The generated pages' files, and reST from text written for the terminal too (docstrings, descriptions)."""

from __future__ import annotations

import re
from pathlib import Path

from wgflow.report.rest import escape_bars  # bars in prose escaped as the report escapes them

__all__ = ["write", "heading", "escape_bars", "references_as_paragraphs"]


def write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (an unchanged page is not rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def heading(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


# plain-text bars: escaped as the report escapes them (one implementation, in the package)


def references_as_paragraphs(lines: list[str]) -> list[str]:
    """Each numbered entry ``[k] ...`` of a References section as its own paragraph, in place and returned.

    The docstrings number their references POT's way, an entry's continuation lines indented; in reST that
    is a definition list cut short by the next entry. Napoleon opens the section with a rubric.
    """
    out: list[str] = []
    inside = entry = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(".. rubric::"):
            inside = stripped == ".. rubric:: References"
        elif inside and re.match(r"\[\d+\]", stripped):
            if out and out[-1].strip():
                out.append("")
            out.append(stripped)
            entry = True
            continue
        elif entry and stripped and line[:1].isspace():
            out.append(stripped)  # a continuation line joins its entry's paragraph
            continue
        entry = entry and bool(stripped)
        out.append(line)
    lines[:] = out
    return lines
