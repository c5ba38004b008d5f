"""Figures that state a claim and its verdict.

A figure of an experiment shows the evidence for one or more of its claims. The experiment says
which with its ``captions`` class attribute, figure name -> :class:`Caption`::

    captions = {
        "teacher_student_risk": Caption(
            "The population risk falls by orders of magnitude and dR/dt = -|grad V|^2 along the flow.",
            claims=("risk_drop", "energy_dissipation"),
        ),
    }

and its figure code writes a title stating the claim (``fig.suptitle("risk falls 4.9 orders")``).
(Claim names that depend on the config are bound by the figure code itself, :func:`bind_claims`.)
The run context binds the figure to those claims when it is saved and, once the run's claims are
judged, appends their verdicts to the title and saves it again (:func:`state_verdicts`):
"risk falls 4.9 orders (claims risk_drop: PASS, energy_dissipation: PASS)". In the ``paper`` figure style
(``--figure-style paper``, :func:`wgflow.plotting.figures.figure_style`) the title keeps the claim alone and
the verdicts go to the figure's caption, which the report shows under it.
:func:`verdict_problems` (part of :func:`wgflow.plotting.figures.figure_problems`) flags a bound figure whose
title states no verdict for one of its claims (a claim name the run never judged, a figure never judged).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Caption",
    "caption_text",
    "figure_claims",
    "bind_claims",
    "bound_claims",
    "state_verdicts",
    "caption_verdicts",
    "verdict_problems",
    "tally",
    "VERDICTS",
]

#: a claim's verdicts, in the order runs list their claims and count them
VERDICTS = ("evidence", "pass", "posthoc", "fail")

_ATTR = "_wgflow_claims"  # the claim names a figure is bound to, stored on the matplotlib figure
_IN_CAPTION = "_wgflow_caption_verdicts"  # the verdicts a paper-style figure states in its caption
_WRAP = 60  # a title longer than this takes its verdict on a second line


@dataclass(frozen=True)
class Caption:
    """What a figure shows: ``statement`` (the report's caption) and the ``claims`` it is evidence for."""

    statement: str
    claims: tuple[str, ...] = ()


def caption_text(caption: str | Caption | None) -> str | None:
    """The statement of a caption given as a :class:`Caption` or a plain string."""
    return caption.statement if isinstance(caption, Caption) else caption


def figure_claims(captions: Mapping[str, str | Caption] | None) -> dict[str, tuple[str, ...]]:
    """Figure name -> the claim names it is bound to (figures whose caption names claims)."""
    return {k: tuple(c.claims) for k, c in (captions or {}).items() if isinstance(c, Caption) and c.claims}


def bind_claims(fig: Any, names: Sequence[str]) -> None:
    """Record on ``fig`` that its title must state the verdicts of the claims ``names``.

    The run context does it for the figures named in ``captions``; figure code calls it itself when
    the claim names depend on the config (one claim per dimension, say).
    """
    setattr(fig, _ATTR, tuple(names))


def bound_claims(fig: Any) -> tuple[str, ...]:
    """The claim names ``fig`` is bound to (empty: none)."""
    return tuple(getattr(fig, _ATTR, ()))


def _word(claim: Any) -> str:
    """EVIDENCE (a pass whose null fails, as registered), PASS or FAIL; ``claim`` is a
    :class:`~wgflow.harness.Claim` or a stored dict."""
    verdict = claim.get("verdict") if isinstance(claim, Mapping) else getattr(claim, "verdict", None)
    if verdict == "evidence":
        return "EVIDENCE"
    passed = claim["passed"] if isinstance(claim, Mapping) else claim.passed
    return "PASS" if passed else "FAIL"


def tally(verdicts: Iterable[str]) -> str:
    """ "E of N claims are evidence", then the passes that are not (their null passes too, or they
    are not registered), the post-hoc claims and the failures: how every run's claims are summarised."""
    v = list(verdicts)
    n, e, p, h, f = len(v), v.count("evidence"), v.count("pass"), v.count("posthoc"), v.count("fail")
    parts = [f"{e} of {n} claims are evidence"]
    if p:
        parts.append(f"{p} pass but their null passes too or they are not registered")
    if h:
        parts.append(f"{h} post hoc (not counted)")
    parts.append(f"{f} fail")
    return "; ".join(parts)


def _verdicts(names: Sequence[str], claims: Iterable[Any]) -> str:
    judged = {c.name: _word(c) for c in claims}
    parts = [f"{n}: {judged.get(n, 'not judged')}" for n in names]
    return f"({'claims' if len(parts) > 1 else 'claim'} {', '.join(parts)})"


def state_verdicts(fig: Any, claims: Iterable[Any], style: str = "report") -> str | None:
    """State the verdicts of the claims ``fig`` is bound to (``Claim`` objects); return them, None if unbound.

    ``report`` style: they are appended to its title, the figure's suptitle, else the title of its only
    axes; a multi-panel figure without a suptitle gets one holding the verdicts alone. ``paper`` style:
    the title keeps the claim alone and the caller puts the returned verdicts in the figure's caption
    (:func:`caption_verdicts`). A verdict stated before is replaced in either style.
    """
    names = bound_claims(fig)
    if not names:
        return None
    verdict = _verdicts(names, claims)
    sup = fig._suptitle
    axes = [ax for ax in fig.axes if ax.axison]
    if sup is not None and sup.get_text().strip():
        target = sup
    elif len(axes) == 1 and axes[0].get_title().strip():
        target = axes[0].title
    elif style == "paper":
        setattr(fig, _IN_CAPTION, verdict)
        return verdict
    else:
        fig.suptitle(verdict)
        return verdict
    base = re.sub(r"\s*\(claims? [^()]*\)$", "", target.get_text().rstrip())
    if style == "paper":
        target.set_text(base)
        setattr(fig, _IN_CAPTION, verdict)
        return verdict
    sep = "\n" if len(base) + len(verdict) > _WRAP else " "
    target.set_text(f"{base}{sep}{verdict}")
    return verdict


def caption_verdicts(statement: str, verdicts: str | None) -> str:
    """A paper-style caption: the figure's ``statement`` followed by its claims' ``verdicts``."""
    return f"{statement.rstrip()} {verdicts}" if verdicts else statement


def verdict_problems(fig: Any) -> list[str]:
    """One line per claim ``fig`` is bound to whose verdict (EVIDENCE, PASS or FAIL) its titles do not state
    (nor its caption, for a ``paper``-style figure)."""
    names = bound_claims(fig)
    titles = [getattr(fig, _IN_CAPTION, ""), fig._suptitle.get_text() if fig._suptitle is not None else ""]
    titles += [ax.get_title() for ax in fig.axes]
    text = "\n".join(titles)
    return [
        f"title states no verdict for claim {n}"
        for n in names
        if not re.search(rf"\b{re.escape(n)}: (EVIDENCE|PASS|FAIL)\b", text)
    ]
