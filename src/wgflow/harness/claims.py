"""Claims: what a source predicts, what a run measured, the rule, and whether it is evidence.

A claim is judged twice by the same rule: on the run's measurement and on its **null**,
the same statistic measured on what a skeptic would offer instead (the t = 0 sample, the
initial network, the same number of steps under the control dynamics). A claim is
*evidence* when it passes, its null fails, it was pre-registered (its rule, null, method
and design match the experiment's ``registration.toml``, :mod:`wgflow.harness.registration`)
and it is not a post-hoc variant (a name ending in ``_posthoc``).

The ``claim_*`` constructors apply one rule to the measurement and to the null given as
``null=Null(description, measured, ci)``; :func:`claim_true` takes both verdicts from its caller.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Claim",
    "Null",
    "POSTHOC_SUFFIX",
    "claim_le",
    "claim_ge",
    "claim_between",
    "claim_close",
    "claim_true",
    "claim_ci_contains",
    "claim_ci_within",
    "claim_ci_below",
    "claim_ci_above",
    "jsonable",
]

#: a rule chosen after the registered one failed is reported under ``NAME + POSTHOC_SUFFIX``
POSTHOC_SUFFIX = "_posthoc"


@dataclass(frozen=True)
class Null:
    """The claim's statistic on what a skeptic would offer, judged by the claim's own rule.

    ``description`` says what the null is (it is compared with the pre-registration);
    ``measured`` and ``ci`` are its value and interval; ``passed`` is filled in by the claim
    constructor that applies its rule (or given by the caller of :func:`claim_true`).
    """

    description: str
    measured: float | str | None = None
    ci: tuple[float, float] | None = None
    passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "measured": jsonable(self.measured),
            "ci": None if self.ci is None else [jsonable(float(v)) for v in self.ci],
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Null:
        ci = d.get("ci")
        return cls(d["description"], d.get("measured"), None if ci is None else (ci[0], ci[1]), d.get("passed"))


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a source, with the value this run measured.

    ``expected`` is the rule in words (``"<= -0.8"``, ``"CI within -1 ± 0.1"``); ``measured``
    is the number (or short string) the run produced; ``tolerance`` the slack already in the rule.

    Evidence fields (shown in the JSON output and the report):

    - ``source``: the statement tested (paper, theorem, equation or figure);
    - ``null``: the same statistic by the same rule on the skeptic's alternative (:class:`Null`);
    - ``control``: a reference number shown beside the measurement (the untrained value, the floor);
    - ``ci``: the confidence interval ``(lo, hi)`` of ``measured`` when the claim is judged on it;
    - ``method``: how the interval or test was computed (``"t-mean"``, ``"welch-slope"``,
      ``"cluster-slope"``, ``"clopper-pearson"``, ``"fisher-exact"``, ``"exact"`` ...);
    - ``power``: what the data could resolve (the interval's width, the smallest detectable
      effect), so a failure reads as "no effect" or as "not enough data";
    - ``registered`` / ``registration``: whether the rule, null, method and design match the
      pre-registration, and if not, why (set by :func:`wgflow.harness.registration.judge`);
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
    null: Null | None = None
    method: str | None = None
    power: str | None = None
    registered: bool | None = None
    registration: str | None = None

    @property
    def posthoc(self) -> bool:
        """A rule chosen after the registered one failed: shown, never counted as evidence."""
        return self.name.endswith(POSTHOC_SUFFIX)

    @property
    def evidence(self) -> bool:
        """Passes where its null fails, as pre-registered, and not post hoc."""
        return bool(
            self.passed
            and self.null is not None
            and self.null.passed is False
            and self.registered is True
            and not self.posthoc
        )

    @property
    def verdict(self) -> str:
        """``evidence``, ``posthoc``, ``pass`` (its null passes too, or it is not registered) or ``fail``."""
        if self.posthoc:
            return "posthoc"
        if self.evidence:
            return "evidence"
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("measured", "control"):
            d[key] = jsonable(d[key])
        if d["ci"] is not None:
            d["ci"] = [jsonable(float(v)) for v in d["ci"]]
        d["null"] = None if self.null is None else self.null.to_dict()
        d["evidence"] = self.evidence
        d["posthoc"] = self.posthoc
        d["verdict"] = self.verdict
        return d


def _f(x: Any) -> float:
    return float(np.asarray(x, dtype=float))


_EVIDENCE_KEYS = {"source", "control", "ci", "note", "null", "method", "power"}


def _evidence(
    kw: dict[str, Any], rule: Callable[[float, tuple[float, float] | None], bool] | None = None
) -> dict[str, Any]:
    """Keyword evidence of a claim with numbers made plain floats, and its null judged by ``rule``."""
    unknown = set(kw) - _EVIDENCE_KEYS
    if unknown:
        raise TypeError(f"unknown claim field(s): {', '.join(sorted(unknown))}")
    out = dict(kw)
    if isinstance(out.get("control"), (np.floating, np.integer, int)) and not isinstance(out.get("control"), bool):
        out["control"] = float(out["control"])
    if out.get("ci") is not None:
        lo, hi = out["ci"]
        out["ci"] = (_f(lo), _f(hi))
    null = out.get("null")
    if null is not None:
        if not isinstance(null, Null):
            raise TypeError(f"null must be a wgflow.harness.Null, got {type(null).__name__}")
        ci = None if null.ci is None else (_f(null.ci[0]), _f(null.ci[1]))
        measured = null.measured
        if isinstance(measured, (np.floating, np.integer, int)) and not isinstance(measured, bool):
            measured = float(measured)
        passed = null.passed
        if rule is not None:
            passed = bool(rule(_f(measured) if measured is not None else math.nan, ci))
        elif passed is None:
            raise ValueError(f"null {null.description!r}: claim_true needs the null's verdict (Null(..., passed=...))")
        out["null"] = Null(null.description, measured, ci, bool(passed))
    if out.get("power") is None and out.get("ci") is not None:
        lo, hi = out["ci"]
        if math.isfinite(lo) and math.isfinite(hi):
            out["power"] = f"interval width {hi - lo:.3g}"
    return out


def _scalar(test: Callable[[float], bool]) -> Callable[[float, tuple[float, float] | None], bool]:
    return lambda m, ci: bool(math.isfinite(m) and test(m))


#: an interval narrower than this, relative to its estimate, is rounding noise around a run where
#: nothing moved (identical realisations), not a measurement: it is degenerate
DEGENERATE_WIDTH = 1e-12


def _interval(test: Callable[[float, float], bool]) -> Callable[[float, tuple[float, float] | None], bool]:
    """A rule on a confidence interval: a missing, degenerate (width within rounding of the estimate)
    or non-finite interval fails."""

    def rule(m: float, ci: tuple[float, float] | None) -> bool:
        if ci is None:
            return False
        lo, hi = ci
        finite = bool(np.isfinite([m, lo, hi]).all())
        return finite and hi - lo > DEGENERATE_WIDTH * max(1.0, abs(m)) and bool(test(lo, hi))

    return rule


def _claim(name, statement, expected, measured, tolerance, rule, ci, evidence) -> Claim:
    m = _f(measured)
    ev = _evidence({**evidence, **({"ci": ci} if ci is not None else {})}, rule)
    return Claim(name, statement, expected, m, tolerance, rule(m, ev.get("ci")), **ev)


def claim_le(name: str, statement: str, measured: Any, bound: float, tolerance: float = 0.0, **evidence: Any) -> Claim:
    """Claim ``measured <= bound + tolerance``."""
    return _claim(
        name, statement, f"<= {bound:g}", measured, tolerance, _scalar(lambda m: m <= bound + tolerance), None, evidence
    )


def claim_ge(name: str, statement: str, measured: Any, bound: float, tolerance: float = 0.0, **evidence: Any) -> Claim:
    """Claim ``measured >= bound - tolerance``."""
    return _claim(
        name, statement, f">= {bound:g}", measured, tolerance, _scalar(lambda m: m >= bound - tolerance), None, evidence
    )


def claim_between(name: str, statement: str, measured: Any, lo: float, hi: float, **evidence: Any) -> Claim:
    """Claim ``lo <= measured <= hi``."""
    return _claim(
        name, statement, f"in [{lo:g}, {hi:g}]", measured, None, _scalar(lambda m: lo <= m <= hi), None, evidence
    )


def claim_close(name: str, statement: str, measured: Any, target: float, tolerance: float, **evidence: Any) -> Claim:
    """Claim ``|measured - target| <= tolerance``."""
    rule = _scalar(lambda m: abs(m - target) <= tolerance)
    return _claim(name, statement, f"{target:g} ± {tolerance:g}", measured, tolerance, rule, None, evidence)


def claim_true(
    name: str, statement: str, measured: Any, passed: bool, expected: str = "true", **evidence: Any
) -> Claim:
    """A claim whose test is computed by the caller (``measured`` is reported); its null, if any,
    carries its own verdict (``Null(description, measured, passed=...)``), computed by the same test."""
    if isinstance(measured, (np.floating, np.integer)):
        measured = measured.item()
    return Claim(name, statement, expected, measured, None, bool(passed), **_evidence(evidence))


def claim_ci_contains(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], target: float, **evidence: Any
) -> Claim:
    """Claim that the confidence interval ``ci`` of ``estimate`` contains the theory's ``target``.

    Containment rewards noise (a wider interval passes more easily); rates and levels are judged
    by :func:`claim_ci_within`. A degenerate (zero-width) or non-finite interval fails.
    """
    rule = _interval(lambda lo, hi: lo <= target <= hi)
    return _claim(name, statement, f"CI contains {target:g}", estimate, None, rule, ci, evidence)


def claim_ci_within(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], target: float, delta: float, **evidence: Any
) -> Claim:
    """Equivalence: the whole confidence interval lies inside ``[target - delta, target + delta]``.

    ``delta`` is the precision the theory or the source allows (a finite-size correction, the
    source's own precision), fixed before the run. An interval too wide for ``delta`` fails:
    noise is not evidence (Schuirmann 1987, two one-sided tests).
    """
    if not delta > 0:
        raise ValueError(f"claim {name}: delta must be > 0, got {delta}")
    rule = _interval(lambda lo, hi: target - delta <= lo and hi <= target + delta)
    return _claim(name, statement, f"CI within {target:g} ± {delta:g}", estimate, delta, rule, ci, evidence)


def claim_ci_below(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], bound: float, **evidence: Any
) -> Claim:
    """Claim that the whole confidence interval lies below ``bound`` (e.g. a negative slope: bound 0)."""
    return _claim(
        name, statement, f"CI < {bound:g}", estimate, None, _interval(lambda lo, hi: hi < bound), ci, evidence
    )


def claim_ci_above(
    name: str, statement: str, estimate: Any, ci: tuple[float, float], bound: float, **evidence: Any
) -> Claim:
    """Claim that the whole confidence interval lies above ``bound``."""
    return _claim(
        name, statement, f"CI > {bound:g}", estimate, None, _interval(lambda lo, hi: lo > bound), ci, evidence
    )


def jsonable(v: Any) -> Any:
    """``v`` as JSON can hold it: NumPy scalars as Python numbers, non-finite floats as strings."""
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
