r"""Docstrings as prose: reStructuredText-like text to HTML paragraphs, lists, headings and rendered maths.

Understood: blank-line separated paragraphs; ``.. math::`` blocks (displayed equations, MathML);
inline ``:math:`...``` and ``$...$``; simple inline powers and indices such as ``n^{-1/2}``,
``n^-1`` or ``W_2`` (MathML); ``- `` / ``* `` / ``1. `` lists; section titles underlined with
``---`` or ``===``; ``::`` literal blocks (``<pre>``); ````code````, ``*emphasis*``. Everything
else is escaped text: the converter never raises.
"""

from __future__ import annotations

import html
import re
import textwrap

from .maths import to_mathml

__all__ = ["docstring_to_html", "inline"]

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


def _blocks(text: str) -> list[list[str]]:
    blocks, cur = [], []
    for line in text.splitlines():
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")


def _list(lines: list[str]) -> str:
    items: list[str] = []
    for line in lines:
        if _ITEM.match(line):
            items.append(_ITEM.sub("", line))
        elif items:
            items[-1] += " " + line.strip()
    tag = "ol" if re.match(r"^\s*\d+\.", lines[0]) else "ul"
    return f"<{tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{tag}>"


def docstring_to_html(doc: str) -> str:
    """``doc`` (a module docstring) as HTML prose."""
    text = textwrap.dedent((doc or "").expandtabs()).strip("\n")
    blocks, out, i = _blocks(text), [], 0
    while i < len(blocks):
        b = blocks[i]
        head = b[0].strip()
        if head.startswith(".. math::"):
            body = list(b[1:])
            rest = head[len(".. math::") :].strip()
            # the equation is the next indented block(s) when the directive stands alone
            while not body and i + 1 < len(blocks) and blocks[i + 1][0].startswith((" ", "\t")):
                i += 1
                body = blocks[i]
            tex = " ".join([rest, *(ln.strip() for ln in body)]).strip()
            tex, _, tail = tex.partition("   (")  # a trailing "(module)" note after the equation
            out.append(to_mathml(tex, display=True) + (f'<p class="eq-note">({html.escape(tail)}</p>' if tail else ""))
        elif len(b) >= 2 and re.fullmatch(r"[-=~^]{3,}", b[1].strip()):
            out.append(f"<h4>{inline(head)}</h4>")
            if len(b) > 2:
                blocks.insert(i + 1, b[2:])
        elif all(ln.startswith((" ", "\t")) for ln in b) and out and out[-1].endswith("::</p>"):
            out[-1] = out[-1][: -len("::</p>")] + ":</p>"
            out.append(f"<pre>{html.escape(textwrap.dedent(chr(10).join(b)), quote=False)}</pre>")
        elif _ITEM.match(b[0]):
            out.append(_list(b))
        else:
            para = " ".join(ln.strip() for ln in b)
            out.append(
                f"<p>{inline(para)}" + ("::" if para.endswith("::") else "") + "</p>"
                if not para.endswith("::")
                else f"<p>{inline(para[:-2])}::</p>"
            )
        i += 1
    return "\n".join(out)
