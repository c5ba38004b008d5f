"""The experiment contract: what an experiment declares, what its run returns, and the registry.

An *experiment* reproduces one result of the sources. It holds a frozen config
(a dataclass with commented defaults and the ``domains`` of its fields), two presets
(``quick`` and ``full``), a ``run(cfg, ctx)`` method that composes library calls, and explicit
**claims**: what the source predicts, what was measured, the tolerance, pass or fail.

Experiments never write files, seed generators or checkpoint by themselves: they ask their
:class:`~wgflow.harness.context.RunContext`, which the store
(:class:`~wgflow.harness.store_context.StoreContext`) or the simple
:class:`~wgflow.harness.context.DirectoryContext` implements.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..plotting.verdicts import VERDICTS, tally
from .claims import Claim, jsonable
from .context import RunContext

__all__ = ["Experiment", "ExperimentResult", "register", "registered"]


# --------------------------------------------------------------------------- results
@dataclass
class ExperimentResult:
    """What ``Experiment.run`` returns: claims, scalar metrics, artifact paths."""

    claims: list[Claim] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def n_passed(self) -> int:
        return sum(c.passed for c in self.claims)

    @property
    def n_evidence(self) -> int:
        """Claims that pass where their null fails, as pre-registered (:attr:`Claim.evidence`)."""
        return sum(c.evidence for c in self.claims)

    def __repr__(self) -> str:
        """One line: the tally of the claims, the numbers of metrics and artifacts."""
        return (
            f"ExperimentResult({tally(c.verdict for c in self.claims)}; {len(self.metrics)} metrics, "
            f"{len(self.artifacts)} artifacts)"
        )

    def _repr_html_(self) -> str:
        """Notebook summary: the tally, then one row per claim (verdict, measured, interval, null)."""
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{html.escape(str(v))}</td>"
                for v in (c.name, c.verdict, _num(c.measured), _interval(c.ci), _null(c))
            )
            + "</tr>"
            for c in self.claims
        )
        head = "".join(
            f"<th style='text-align:left'>{h}</th>" for h in ("claim", "verdict", "measured", "95% CI", "null")
        )
        tallied = html.escape(tally(c.verdict for c in self.claims))
        return f"<p>{tallied}</p><table><tr>{head}</tr>{rows}</table>"

    def to_dict(self) -> dict[str, Any]:
        verdicts = [c.verdict for c in self.claims]
        return {
            "evidence": {v: verdicts.count(v) for v in VERDICTS},
            "claims": [c.to_dict() for c in self.claims],
            "metrics": {k: jsonable(v) for k, v in self.metrics.items()},
            "artifacts": dict(self.artifacts),
        }


def _num(x) -> str:
    return f"{x:.4g}" if isinstance(x, int | float) else "" if x is None else str(x)


def _interval(ci) -> str:
    return "" if ci is None else f"[{_num(ci[0])}, {_num(ci[1])}]"


def _null(c: Claim) -> str:
    n = c.null
    if n is None:
        return "none"
    return " ".join(x for x in (_num(n.measured), _interval(n.ci)) if x) + (", passes" if n.passed else ", fails")


# --------------------------------------------------------------------------- experiments
class Experiment:
    """Base class of every reproduced result.

    Subclasses set the class attributes and implement :meth:`run`::

        @register
        class TeacherStudent(Experiment):
            name = "teacher-student"
            title = "Mean-field ReLU student learns a ReLU teacher"
            reference = "Chizat & Bach, NeurIPS 2018"
            description = "..."
            Config = TeacherStudentConfig            # frozen dataclass, defaults = quick
            presets = {"quick": {}, "full": {"n": 1000, "steps": 20000}}

            def run(self, cfg, ctx): ...
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str]
    Config: ClassVar[type]
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "full": {}}
    #: figure name -> what it shows: a :class:`wgflow.plotting.verdicts.Caption` (the report's caption and
    #: the claims whose verdicts its title states) or a plain caption string
    captions: ClassVar[dict[str, Any]] = {}
    #: rough wall time of the quick preset on one core, in seconds: ``reproduce --jobs`` starts the
    #: costliest first when the store has no earlier run to go by (a scheduling hint, nothing else)
    cost: ClassVar[float] = 60.0

    def run(self, cfg: Any, ctx: RunContext) -> ExperimentResult:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, type[Experiment]] = {}


def register(cls: type[Experiment]) -> type[Experiment]:
    """Class decorator adding an experiment to the registry."""
    for attr in ("name", "title", "description", "reference", "Config"):
        if not hasattr(cls, attr):
            raise TypeError(f"experiment {cls.__name__} lacks class attribute {attr!r}")
    if not dataclasses.is_dataclass(cls.Config):
        raise TypeError(f"experiment {cls.name}: Config must be a dataclass")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type[Experiment]]:
    """The experiments registered in this process so far, by name (nothing is loaded)."""
    return dict(_REGISTRY)
