r"""A small LaTeX-to-MathML converter for the maths of the experiments' docstrings (no network, no CDN).

It covers what the docstrings use: letters, numbers and operators, ``^`` / ``_`` (with groups),
``\frac`` / ``\tfrac`` / ``\dfrac`` (also the short ``\tfrac12``), ``\sqrt``, Greek letters,
``\mathbb`` / ``\mathcal`` / ``\mathrm`` / ``\operatorname`` / ``\text``, relations (``\le``,
``\to``, ``\propto`` ...), big operators (``\sum``, ``\int``), accents (``\bar``, ``\hat``,
``\tilde``), spacing (``\qquad``, ``\,``) and ``\big``/``\left``/``\right`` delimiters (dropped
sizes). An unknown command is shown as its name in an ``<mtext>``, never an error: the text stays readable.

>>> to_mathml("n^{-1/2}")
'<math><msup><mi>n</mi><mrow><mo>-</mo><mn>1</mn><mo>/</mo><mn>2</mn></mrow></msup></math>'
"""

from __future__ import annotations

import html
import re

__all__ = ["to_mathml", "GREEK", "SYMBOLS"]

GREEK = {
    n: chr(c)
    for n, c in [
        ("alpha", 0x3B1),
        ("beta", 0x3B2),
        ("gamma", 0x3B3),
        ("delta", 0x3B4),
        ("epsilon", 0x3F5),
        ("varepsilon", 0x3B5),
        ("zeta", 0x3B6),
        ("eta", 0x3B7),
        ("theta", 0x3B8),
        ("vartheta", 0x3D1),
        ("iota", 0x3B9),
        ("kappa", 0x3BA),
        ("lambda", 0x3BB),
        ("mu", 0x3BC),
        ("nu", 0x3BD),
        ("xi", 0x3BE),
        ("pi", 0x3C0),
        ("rho", 0x3C1),
        ("sigma", 0x3C3),
        ("tau", 0x3C4),
        ("upsilon", 0x3C5),
        ("phi", 0x3D5),
        ("varphi", 0x3C6),
        ("chi", 0x3C7),
        ("psi", 0x3C8),
        ("omega", 0x3C9),
        ("Gamma", 0x393),
        ("Delta", 0x394),
        ("Theta", 0x398),
        ("Lambda", 0x39B),
        ("Xi", 0x39E),
        ("Pi", 0x3A0),
        ("Sigma", 0x3A3),
        ("Phi", 0x3A6),
        ("Psi", 0x3A8),
        ("Omega", 0x3A9),
    ]
}
SYMBOLS = {  # operators and relations (<mo>)
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "sim": "∼",
    "simeq": "≃",
    "equiv": "≡",
    "propto": "∝",
    "to": "→",
    "rightarrow": "→",
    "mapsto": "↦",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "in": "∈",
    "notin": "∉",
    "subset": "⊂",
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "mp": "∓",
    "ast": "∗",
    "circ": "∘",
    "otimes": "⊗",
    "nabla": "∇",
    "partial": "∂",
    "infty": "∞",
    "sum": "∑",
    "prod": "∏",
    "int": "∫",
    "oint": "∮",
    "cup": "∪",
    "cap": "∩",
    "forall": "∀",
    "exists": "∃",
    "ll": "≪",
    "gg": "≫",
    "langle": "⟨",
    "rangle": "⟩",
    "|": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "vert": "|",
    "ldots": "…",
    "cdots": "⋯",
    "dots": "…",
    "star": "⋆",
    "wedge": "∧",
    "vee": "∨",
    "setminus": "∖",
    "{": "{",
    "}": "}",
    "sup": "sup",
    "inf": "inf",
    "max": "max",
    "min": "min",
    "log": "log",
    "exp": "exp",
    "lim": "lim",
    "det": "det",
    "sin": "sin",
    "cos": "cos",
    "tanh": "tanh",
    "arg": "arg",
    "argmin": "argmin",
    "argmax": "argmax",
}
_SPACES = {"qquad": "2em", "quad": "1em", ",": "0.17em", ";": "0.28em", ":": "0.22em", " ": "0.25em", "!": "0"}
_FONTS = {
    "mathbb": "double-struck",
    "mathcal": "script",
    "mathbf": "bold",
    "mathsf": "sans-serif",
    "mathit": "italic",
    "boldsymbol": "bold-italic",
}
_ACCENTS = {
    "bar": "¯",
    "overline": "¯",
    "hat": "^",
    "widehat": "^",
    "tilde": "~",
    "widetilde": "~",
    "dot": "˙",
    "vec": "→",
}
_IGNORED = {
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "displaystyle",
    "limits",
    "nolimits",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|(\d+(?:\.\d+)?)|([A-Za-z])|(\s+)|(.)", re.S)


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


class _Parser:
    def __init__(self, tex: str):
        self.toks = [
            (m.group(1), m.group(2), m.group(3), m.group(5)) for m in _TOKEN.finditer(tex) if m.group(4) is None
        ]
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self):
        t = self.peek()
        self.i += 1
        return t

    def expr(self, stop: str | None = None) -> list[str]:
        out: list[str] = []
        while self.peek() is not None:
            t = self.peek()
            if t[3] == "}" and stop == "}":
                self.i += 1
                return out
            if t[3] in ("^", "_"):
                self.i += 1
                base = out.pop() if out else "<mrow></mrow>"
                out.append(self.script(base, t[3]))
                continue
            out.append(self.atom())
        return out

    def script(self, base: str, kind: str) -> str:
        first = self.arg()
        t = self.peek()
        other = "_" if kind == "^" else "^"
        if t is not None and t[3] == other:
            self.i += 1
            second = self.arg()
            sub, sup = (second, first) if kind == "^" else (first, second)
            return f"<msubsup>{base}{sub}{sup}</msubsup>"
        tag = "msup" if kind == "^" else "msub"
        return f"<{tag}>{base}{first}</{tag}>"

    def arg(self) -> str:
        """One argument: a {group}, or a single token (a digit of a number only: \\tfrac12)."""
        t = self.peek()
        if t is None:
            return "<mrow></mrow>"
        if t[3] == "{":
            self.i += 1
            return "<mrow>" + "".join(self.expr("}")) + "</mrow>"
        if t[1] is not None and len(t[1]) > 1:  # \tfrac12: one digit, the rest stays
            num = t[1]
            self.toks[self.i] = (None, num[1:], None, None)
            return f"<mn>{num[0]}</mn>"
        return self.atom()

    def text_arg(self) -> str:
        t = self.next()
        if t is None or t[3] != "{":
            return "" if t is None else (t[0] or t[1] or t[2] or t[3] or "")
        depth, parts = 1, []
        while self.peek() is not None:
            t = self.next()
            if t[3] == "{":
                depth += 1
            elif t[3] == "}":
                depth -= 1
                if depth == 0:
                    break
            parts.append(t[1] or t[2] or t[3] or ("\\" + t[0] if t[0] else ""))
        return "".join(parts)

    def atom(self) -> str:
        cmd, num, letter, other = self.next()
        if num is not None:
            return f"<mn>{num}</mn>"
        if letter is not None:
            return f"<mi>{letter}</mi>"
        if other is not None:
            if other == "{":
                return "<mrow>" + "".join(self.expr("}")) + "</mrow>"
            if other == "~":
                return '<mspace width="0.25em"></mspace>'
            return f"<mo>{_esc(other)}</mo>"
        return self.command(cmd)

    def command(self, cmd: str) -> str:
        if cmd in GREEK:
            return f"<mi>{GREEK[cmd]}</mi>"
        if cmd in ("frac", "tfrac", "dfrac"):
            return f"<mfrac>{self.arg()}{self.arg()}</mfrac>"
        if cmd == "sqrt":
            return f"<msqrt>{self.arg()}</msqrt>"
        if cmd in _FONTS:
            return f'<mi mathvariant="{_FONTS[cmd]}">{_esc(self.text_arg())}</mi>'
        if cmd in ("mathrm", "operatorname"):
            return f'<mi mathvariant="normal">{_esc(self.text_arg())}</mi>'
        if cmd in ("text", "textrm", "mbox"):
            return f"<mtext>{_esc(self.text_arg())}</mtext>"
        if cmd in _ACCENTS:
            return f'<mover accent="true">{self.arg()}<mo>{_ACCENTS[cmd]}</mo></mover>'
        if cmd in _SPACES:
            return f'<mspace width="{_SPACES[cmd]}"></mspace>'
        if cmd in _IGNORED:
            return "<mrow></mrow>"
        if cmd in SYMBOLS:
            return f"<mo>{_esc(SYMBOLS[cmd])}</mo>"
        return f"<mtext>{_esc(cmd)}</mtext>"


def to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` as a ``<math>`` element (``display="block"`` for a displayed equation)."""
    tex = _CONTROL.sub("", tex).replace("\\\\", " ")  # control characters are not text in HTML/XML
    body = "".join(_Parser(tex).expr())
    return f'<math display="block">{body}</math>' if display else f"<math>{body}</math>"
