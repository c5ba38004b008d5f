"""One number formatter for the console and the report: significant digits, no float noise.

>>> fmt(4.641934848436281e-05)
'4.64e-05'
>>> fmt(0.5), fmt(12345.678), fmt(3), fmt(None), fmt(float("nan"))
('0.5', '1.23e+04', '3', '–', 'nan')

Strings pass through, shortened to ``max_len`` characters (a claim measured as a sentence stays
one line); tuples and lists are formatted item by item.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["fmt", "fmt_duration", "SIG_DIGITS"]

SIG_DIGITS = 3


def fmt(v: Any, digits: int = SIG_DIGITS, max_len: int | None = 80) -> str:
    """``v`` with ``digits`` significant digits (ints exact up to 6 digits, bools as words)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, numbers.Integral):
        return str(int(v)) if abs(int(v)) < 10**6 else f"{int(v):.{digits - 1}e}"
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        return f"{x:.{digits}g}"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(fmt(x, digits, None) for x in v) + "]"
    s = " ".join(str(v).split())
    if max_len is not None and len(s) > max_len:
        s = s[: max_len - 1].rstrip() + "…"
    return s


def fmt_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
