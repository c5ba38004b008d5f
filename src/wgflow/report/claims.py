"""The claims table of a run: evidence first, each claim with its interval, its null (the same rule on
the skeptic's alternative), its method and power, its pre-registration and its verdict."""

from __future__ import annotations

from typing import Any

from ..plotting.verdicts import VERDICTS, tally
from .markup import e
from .numbers import fmt

__all__ = ["claims_table"]


def _fmt(v: Any) -> str:
    return fmt(v, max_len=None)


def _ci(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "–"


def claims_table(claims: list[dict[str, Any]], kind: str = "claims") -> str:
    """Claims with their evidence, evidence first: the measured value and its interval, the null's
    (the same statistic by the same rule on the skeptic's alternative), the power, the verdict."""
    verdicts = [c.get("verdict") or ("pass" if c["passed"] else "fail") for c in claims]
    n_pass, n_ev = sum(c["passed"] for c in claims), verdicts.count("evidence")
    rows = []
    for c, verdict in sorted(
        zip(claims, verdicts), key=lambda cv: VERDICTS.index(cv[1]) if cv[1] in VERDICTS else len(VERDICTS)
    ):
        notes = [c.get("note")]
        if c.get("registered") is False and not c.get("posthoc"):
            notes.append(c.get("registration"))
        note = "".join(f'<div class="note">{e(n)}</div>' for n in notes if n)
        null = c.get("null")
        null_cell = (
            f"{e(null['description'])}: {e(_fmt(null.get('measured')))} {e(_ci(null.get('ci')))} "
            f'<span class="null-{"pass" if null.get("passed") else "fail"}">'
            f"{'passes too' if null.get('passed') else 'fails'}</span>"
            if null
            else "–"
        )
        rows.append(
            f'<tr class="claim {verdict}"><td>{e(c["name"])}</td><td>{e(c["statement"])}{note}</td>'
            f'<td class="source">{e(c.get("source") or "–")}</td>'
            f'<td>{e(c["expected"])}</td><td class="num">{e(_fmt(c["measured"]))}</td>'
            f'<td class="num ci">{e(_ci(c.get("ci")))}</td><td class="null">{null_cell}</td>'
            f'<td class="method">{e(c.get("method") or "–")}<div class="power">{e(c.get("power") or "")}</div></td>'
            f'<td class="verdict">{verdict.upper()}</td></tr>'
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "claim",
            "statement",
            "source",
            "rule",
            "measured",
            "CI",
            "null (same rule)",
            "method, power",
            "verdict",
        )
    )
    return (
        f'<p class="claim-count">{e(tally(verdicts))}</p>'
        f'<table class="{kind}" data-claims="{len(claims)}" data-passed="{n_pass}" data-evidence="{n_ev}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
