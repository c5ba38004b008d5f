"""The generated pages' files, and reST from text written for the terminal too (docstrings, descriptions)."""

from __future__ import annotations

import re
from pathlib import Path


def write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (an unchanged page is not rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def heading(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


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
