"""Claims: what a source predicts, what a run measured, the tolerance, pass or fail.

The ``claim_*`` constructors compare a measured number (or its confidence interval) with
the source's statement and record the evidence (source, control, ci, note) beside it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Claim",
    "claim_le",
    "claim_ge",
    "claim_between",
    "claim_close",
    "claim_true",
    "claim_ci_contains",
    "claim_ci_below",
    "claim_ci_above",
    "jsonable",
]


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a source, with the value this run measured.

    ``expected`` is human readable (``"<= -0.8"``, ``"CI contains -1"``);
    ``measured`` is the number (or short string) the run produced;
    ``tolerance`` is the slack already included in the comparison.

    Evidence fields (shown in the JSON output and the report):

    - ``source``: the statement tested (paper, theorem, equation or figure);
    - ``control``: the same quantity measured on the control the statement is relative
      to (the untrained network, the sampling floor, the violating initialisation, the
      smaller batch ...), so a reader sees both numbers;
    - ``ci``: the confidence interval ``(lo, hi)`` of ``measured`` (bootstrap over seeds
      or realisations) when the claim is judged on it;
    - ``note``: why a claim fails at the source's settings, or which variant of a rule it is.

    A claim must be able to fail: run with training switched off
    (:func:`wgflow.control.untrained`, ``wgflow run --untrained``) no claim may pass.
    """

    name: str
    statement: str
    expected: str
    measured: float | str | None
    tolerance: float | str | None
    passed: bool
    source: str | None = None
    control: float | str | None = None
    ci: tuple[float, float] | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("measured", "control"):
            d[key] = jsonable(d[key])
        if d["ci"] is not None:
            d["ci"] = [jsonable(float(v)) for v in d["ci"]]
        return d


def _f(x: Any) -> float:
    return float(np.asarray(x, dtype=float))


def _evidence(kw: dict[str, Any]) -> dict[str, Any]:
    """Keyword evidence of a claim (source, control, ci, note) with numbers made plain floats."""
    unknown = set(kw) - {"source", "control", "ci", "note"}
    if unknown:
        raise TypeError(f"unknown claim field(s): {', '.join(sorted(unknown))}")
    out = dict(kw)
    if isinstance(out.get("control"), (np.floating, np.integer, int)) and not isinstance(out.get("control"), bool):
        out["control"] = float(out["control"])
    if out.get("ci") is not None:
        lo, hi = out["ci"]
        out["ci"] = (_f(lo), _f(hi))
    return out


def claim_le(name: str, statement: str, measured: Any, bound: float, tolerance: float = 0.0, **evidence: Any) -> Claim:
    """Claim ``measured <= bound + tolerance``."""
    m = _f(measured)
    return Claim(name, statement, f"<= {bound:g}", m, tolerance, bool(m <= bound + tolerance), **_evidence(evidence))


def claim_ge(name: str, statement: str, measured: Any, bound: float, tolerance: float = 0.0, **evidence: Any) -> Claim:
    """Claim ``measured >= bound - tolerance``."""
    m = _f(measured)
    return Claim(name, statement, f">= {bound:g}", m, tolerance, bool(m >= bound - tolerance), **_evidence(evidence))


def claim_between(name: str, statement: str, measured: Any, lo: float, hi: float, **evidence: Any) -> Claim:
    """Claim ``lo <= measured <= hi``."""
    m = _f(measured)
    return Claim(name, statement, f"in [{lo:g}, {hi:g}]", m, None, bool(lo <= m <= hi), **_evidence(evidence))


def claim_close(name: str, statement: str, measured: Any, target: float, tolerance: float, **evidence: Any) -> Claim:
    """Claim ``|measured - target| <= tolerance``."""
    m = _f(measured)
    return Claim(
        name,
        statement,
        f"{target:g} ± {tolerance:g}",
        m,
        tolerance,
        bool(abs(m - target) <= tolerance),
        **_evidence(evidence),
    )


def claim_true(
    name: str, statement: str, measured: Any, passed: bool, expected: str = "true", **evidence: Any
) -> Claim:
    """A claim whose test is computed by the caller (``measured`` is reported)."""
    if isinstance(measured, (np.floating, np.integer)):
        measured = measured.item()
    return Claim(name, statement, expected, measured, None, bool(passed), **_evidence(evidence))


def claim_ci_contains(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], target: float, **evidence: Any
) -> Claim:
    """Claim that the confidence interval ``ci`` of ``estimate`` contains the theory's ``target``.

    A degenerate (zero-width) or non-finite interval fails: one realisation is not evidence.
    """
    m, (lo, hi) = _f(estimate), (_f(ci[0]), _f(ci[1]))
    ok = bool(np.isfinite([m, lo, hi]).all() and lo < hi and lo <= target <= hi)
    return Claim(name, statement, f"CI contains {target:g}", m, None, ok, ci=(lo, hi), **_evidence(evidence))


def claim_ci_below(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], bound: float, **evidence: Any
) -> Claim:
    """Claim that the whole confidence interval lies below ``bound`` (e.g. a negative slope: bound 0)."""
    m, (lo, hi) = _f(estimate), (_f(ci[0]), _f(ci[1]))
    ok = bool(np.isfinite([m, lo, hi]).all() and lo < hi and hi < bound)
    return Claim(name, statement, f"CI < {bound:g}", m, None, ok, ci=(lo, hi), **_evidence(evidence))


def claim_ci_above(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], bound: float, **evidence: Any
) -> Claim:
    """Claim that the whole confidence interval lies above ``bound``."""
    m, (lo, hi) = _f(estimate), (_f(ci[0]), _f(ci[1]))
    ok = bool(np.isfinite([m, lo, hi]).all() and lo < hi and lo > bound)
    return Claim(name, statement, f"CI > {bound:g}", m, None, ok, ci=(lo, hi), **_evidence(evidence))


def jsonable(v: Any) -> Any:
    """``v`` as JSON can hold it: NumPy scalars as Python numbers, non-finite floats as strings."""
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
