"""The experiment contract: configs, claims, results, run contexts and the registry.

An *experiment* reproduces one result of the sources. It holds a frozen config
(a dataclass with commented defaults), two presets (``quick`` and ``full``), a
``run(cfg, ctx)`` method that composes library calls, and explicit **claims**:
what the source predicts, what was measured, the tolerance, pass or fail.

Experiments never write files, seed generators or checkpoint by themselves: they
ask their :class:`RunContext` (defined in ``_context.py`` and re-exported here), which
the store (``wgflow.store``) or the simple :class:`DirectoryContext` implements.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._io import atomic_write_bytes
from ..control import untrained as _untrained
from ..errors import ConfigError, DivergenceError  # defined apart so the core need not import experiments
from ._context import DirectoryContext, RunContext
from .claims import (
    Claim,
    _jsonable,
    claim_between,
    claim_ci_above,
    claim_ci_below,
    claim_ci_contains,
    claim_close,
    claim_ge,
    claim_le,
    claim_true,
)

__all__ = [
    "ConfigError",
    "DivergenceError",
    "Experiment",
    "ExperimentResult",
    "RunContext",
    "DirectoryContext",
    "register",
    "get_experiment",
    "list_experiments",
    "make_config",
    "run_experiment",
    # the claims are part of the contract
    "Claim",
    "claim_between",
    "claim_ci_above",
    "claim_ci_below",
    "claim_ci_contains",
    "claim_close",
    "claim_ge",
    "claim_le",
    "claim_true",
]


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [c.to_dict() for c in self.claims],
            "metrics": {k: _jsonable(v) for k, v in self.metrics.items()},
            "artifacts": dict(self.artifacts),
        }


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


def _load_all() -> None:
    # Importing every module of the package registers the built-in experiments.
    from . import load_builtin

    load_builtin()
    # Then the user's own: $WGFLOW_EXPERIMENTS files and the entry point group wgflow.experiments.
    from ._external import load_external

    load_external()


def list_experiments() -> list[type[Experiment]]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_experiment(name: str) -> type[Experiment]:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(sorted(_REGISTRY))}") from None


# --------------------------------------------------------------------------- configs
def _coerce(key: str, value: Any, typ: Any, default: Any) -> Any:
    """Coerce ``value`` (possibly a CLI string) to the type of the field."""
    target = type(default) if default is not None else None
    if isinstance(typ, str):  # postponed annotations
        t = typ.replace(" ", "")
    else:
        t = getattr(typ, "__name__", str(typ))
    try:
        if isinstance(value, str):
            if target is bool or t == "bool":
                low = value.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if target is int or t == "int":
                return int(value)
            if target is float or t == "float":
                return float(value)
            if target is tuple or t.startswith("tuple"):
                items = [s for s in value.replace("(", "").replace(")", "").split(",") if s.strip()]
                elem = type(default[0]) if default else float
                return tuple(elem(s.strip()) for s in items)
            if target is str or t == "str":
                return value
            # fall back to JSON for anything else (lists, None)
            return json.loads(value)
        if target is bool and not isinstance(value, bool):
            raise ValueError
        if target is int and isinstance(value, bool):
            raise ValueError
        if target is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if target is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if target is tuple and isinstance(value, list):
            return tuple(value)
        if target is not None and not isinstance(value, target):
            raise ValueError
        return value
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ConfigError(f"config key {key!r}: cannot use {value!r}; expected a value of type {t}") from None


def make_config(
    exp: type[Experiment] | str, preset: str = "quick", overrides: Mapping[str, Any] | None = None, **kw: Any
):
    """Build and validate an experiment config from a preset and overrides.

    Every value is parsed by its field's domain (``Config.domains``, see
    :mod:`wgflow.experiments.config`), then the config's ``validate(self)`` checks the
    cross-field rules. Unknown keys, wrong types and out-of-range values raise
    :class:`ConfigError` with a one-line message naming the key; nothing else escapes.
    Fields without a declared domain fall back to type coercion (and fail the conformance test).
    """
    if isinstance(exp, str):
        exp = get_experiment(exp)
    if preset not in exp.presets:
        raise ConfigError(f"unknown preset {preset!r} for {exp.name}; choose one of: {', '.join(exp.presets)}")
    fields = {f.name: f for f in dataclasses.fields(exp.Config)}
    domains = getattr(exp.Config, "domains", {})
    values: dict[str, Any] = {}
    merged = {**exp.presets[preset], **dict(overrides or {}), **kw}
    for key, value in merged.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {str(key)[:60]!r} for {exp.name}; allowed keys: {', '.join(fields)}")
        if key in domains:
            values[key] = domains[key].parse(key, value)
            continue
        f = fields[key]
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        values[key] = _coerce(key, value, f.type, default)
    try:
        cfg = exp.Config(**values)
    except TypeError as e:
        raise ConfigError(f"bad config for {exp.name}: {e}") from None
    for key, allowed in getattr(exp.Config, "choices", {}).items():  # older configs: enumerated strings
        v = getattr(cfg, key)
        if v not in allowed:
            raise ConfigError(
                f"config key {key!r}: {v!r} is not allowed; choose one of: {', '.join(map(str, allowed))}"
            )
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError:
            raise
        except (ValueError, TypeError, ArithmeticError) as e:  # a rule tripping over a value: still one line
            raise ConfigError(f"bad config for {exp.name}: {type(e).__name__}: {e}") from None
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=_jsonable))


def run_experiment(
    name: str,
    preset: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    out_dir: str | os.PathLike | None = None,
    ctx: RunContext | None = None,
    untrained: bool = False,
) -> ExperimentResult:
    """Run one experiment without the store (for scripts and tests).

    ``untrained=True`` runs the negative control: the same pipeline with every training
    step switched off (:func:`wgflow.control.untrained`); no claim should pass.
    """
    exp = get_experiment(name)
    cfg = make_config(exp, preset, overrides)
    if ctx is None:
        out_dir = out_dir or tempfile.mkdtemp(prefix=f"wgflow-{name}-")
        ctx = DirectoryContext(out_dir, seed=seed)
    if isinstance(ctx, DirectoryContext):
        _claim_directory(ctx, name, cfg, untrained)
    with _untrained(untrained):
        return run_and_judge(exp, cfg, ctx)


def run_and_judge(exp: type[Experiment], cfg: Any, ctx: RunContext) -> ExperimentResult:
    """``exp().run(cfg, ctx)`` with its claims' sources filled in; then the figures bound to claims by
    ``exp.captions`` get the verdicts in their titles (:mod:`wgflow.plotting.verdicts`)."""
    from ..plotting.verdicts import figure_claims

    if isinstance(ctx, DirectoryContext):
        ctx.figure_claims = figure_claims(getattr(exp, "captions", None))
    result = with_sources(exp, exp().run(cfg, ctx))
    if isinstance(ctx, DirectoryContext):
        ctx.judge_figures(result.claims)
    return result


def with_sources(exp: type[Experiment], result: ExperimentResult) -> ExperimentResult:
    """Claims that name no source of their own cite the experiment's reference."""
    result.claims = [c if c.source else dataclasses.replace(c, source=exp.reference) for c in result.claims]
    return result


def _claim_directory(ctx: DirectoryContext, name: str, cfg: Any, untrained: bool = False) -> None:
    """Record which run owns ``ctx.out_dir`` (run.json); refuse to resume another run's stages.

    Stages are memoised by key only, so a directory holding stages of a different experiment,
    config or seed would silently hand back stale results.
    """
    me = {"experiment": name, "config": config_to_dict(cfg), "seed": ctx.seed}
    if untrained:
        me["untrained"] = True
    path = ctx.out_dir / "run.json"
    if path.exists():
        try:
            other = json.loads(path.read_text())
        except ValueError:
            other = None
        if other != me:
            raise ConfigError(
                f"{ctx.out_dir} holds the stages of another run (different experiment, config or "
                "seed); use a new out_dir or delete that one"
            )
        return
    if (ctx.out_dir / "stages").exists():
        raise ConfigError(f"{ctx.out_dir} holds stages of an unrecorded run; use a new out_dir or delete that one")
    atomic_write_bytes(path, json.dumps(me, indent=1, sort_keys=True).encode())
