"""Pre-registration: every claim's rule, null, method and design, fixed before the run.

Each experiment package holds a ``registration.toml`` beside its module, human-readable and
committed::

    experiment = "mmn-gaussians"

    [presets.quick]            # the design each preset registers (seed counts, sizes)
    seeds = 20
    n_values = [32, 64, 128, 256, 512]

    [claims.w2_rate]
    date = "2026-12-07"
    rule = "CI within -0.5 ± 0.15"       # the claim's ``expected``, exactly as the code states it
    method = "cluster-slope"              # how its interval is computed (wgflow.stats)
    null = "the same fit on the t = 0 sample"
    keys = { w2_delta = 0.15 }            # config keys the rule reads, with their registered values
    design = { levels = "n_values", per_level = "seeds" }   # config keys giving the design sizes
    reason = "why this rule, this delta, this null"

    [claims.w2_rate_posthoc]              # a rule chosen after ``w2_rate`` failed: shown, never counted
    replaces = "w2_rate"
    ...

:func:`judge` marks each claim of a run ``registered`` when its rule, null and method match its
entry and the run's config matches the registered keys and its preset's design; otherwise it
says why not. ``tests/harness/test_registration.py`` fails when code and file differ.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .claims import Claim
from .configs import config_to_dict, make_config
from .contract import Experiment
from .registry import list_experiments

__all__ = ["FILENAME", "Entry", "Registration", "Design", "load", "judge", "designs", "problems", "SIMULATED_METHODS"]

FILENAME = "registration.toml"
#: methods whose interval coverage ``tests/test_coverage_designs.py`` simulates at the registered designs
SIMULATED_METHODS = ("t-mean", "bca-mean", "welch-slope", "cluster-slope")
_ENTRY_KEYS = {"date", "rule", "method", "null", "reason", "keys", "design", "replaces", "statement"}


@dataclass(frozen=True)
class Entry:
    """One registered claim."""

    name: str
    date: str
    rule: str
    method: str
    null: str
    reason: str
    keys: Mapping[str, Any] = field(default_factory=dict)
    design: Mapping[str, Any] = field(default_factory=dict)
    replaces: str | None = None
    statement: str | None = None


@dataclass(frozen=True)
class Registration:
    """An experiment's ``registration.toml``: the registered design of each preset and the claims."""

    experiment: str
    path: Path
    presets: Mapping[str, Mapping[str, Any]]
    claims: Mapping[str, Entry]


@dataclass(frozen=True)
class Design:
    """A registered claim's design sizes at one preset, for the coverage simulation."""

    experiment: str
    preset: str
    claim: str
    method: str
    sizes: dict[str, Any]


# TOML is read by the standard library from Python 3.11, by its backport tomli (a dependency) before
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


def path_of(exp: type[Experiment]) -> Path:
    """Where ``exp``'s registration lives: ``registration.toml`` beside the module defining it."""
    return Path(inspect.getfile(exp)).parent / FILENAME


def load(exp: type[Experiment]) -> Registration | None:
    """``exp``'s registration, or None when it has none. A malformed file is a one-line ConfigError."""
    path = path_of(exp)
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    if data.get("experiment") != exp.name:
        raise ConfigError(f"{path}: experiment = {data.get('experiment')!r}, expected {exp.name!r}")
    claims = {}
    for name, raw in (data.get("claims") or {}).items():
        unknown = set(raw) - _ENTRY_KEYS
        missing = {"date", "rule", "method", "null", "reason"} - set(raw)
        if unknown or missing:
            what = f"unknown field(s) {sorted(unknown)}" if unknown else f"missing field(s) {sorted(missing)}"
            raise ConfigError(f"{path}: claim {name!r} has {what}")
        fields: dict[str, Any] = {k: str(v) if k == "date" else v for k, v in raw.items()}
        claims[name] = Entry(name=name, **fields)
    return Registration(exp.name, path, data.get("presets") or {}, claims)


def _plain(v: Any) -> Any:
    """Config values as TOML holds them (tuples as lists)."""
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0) or a == b
    return a == b


def _why_not(entry: Entry | None, claim: Claim, cfg: Mapping[str, Any], design: Mapping[str, Any] | None) -> str | None:
    """Why ``claim`` is not as registered (None when it is)."""
    if entry is None:
        return "not in the pre-registration"
    if claim.posthoc:
        return f"post hoc: chosen after {entry.replaces or 'the registered rule'} failed ({entry.date})"
    if claim.expected != entry.rule:
        return f"rule {claim.expected!r} differs from the registered {entry.rule!r}"
    null = claim.null.description if claim.null is not None else None
    if null != entry.null:
        return f"null {null!r} differs from the registered {entry.null!r}"
    if claim.method != entry.method:
        return f"method {claim.method!r} differs from the registered {entry.method!r}"
    for key, value in entry.keys.items():
        if key not in cfg or not _same(cfg[key], value):
            return f"config {key} = {cfg.get(key)!r} differs from the registered {value!r}"
    if design is None:
        return "this preset's design is not registered"
    for key, value in design.items():
        if key not in cfg or not _same(cfg[key], value):
            return f"design {key} = {cfg.get(key)!r} differs from the registered {value!r}"
    return None


def judge(exp: type[Experiment], cfg: Any, preset: str | None, claims: Iterable[Claim]) -> list[Claim]:
    """``claims`` with ``registered`` and ``registration`` set against ``exp``'s pre-registration."""
    claims = list(claims)
    reg = load(exp)
    if reg is None:
        return [dataclasses.replace(c, registered=False, registration="no pre-registration file") for c in claims]
    values = config_to_dict(cfg)
    design = reg.presets.get(preset) if preset is not None else None
    out = []
    for c in claims:
        why = _why_not(reg.claims.get(c.name), c, values, design)
        text = f"registered {reg.claims[c.name].date}" if why is None else f"not registered: {why}"
        out.append(dataclasses.replace(c, registered=why is None, registration=text))
    return out


def problems(exp: type[Experiment]) -> list[str]:
    """Where ``exp``'s code and its registration differ statically (empty when they agree).

    Every preset of the experiment has a registered design equal to the preset's config; every
    registered key exists in the config with the registered value at every registered preset;
    every design size names config keys; every post-hoc entry names a registered claim.
    """
    reg = load(exp)
    if reg is None:
        return [f"{exp.name}: no {FILENAME} beside {inspect.getfile(exp)}"]
    found = []
    if set(reg.presets) != set(exp.presets):
        found.append(f"registered presets {sorted(reg.presets)} differ from the presets {sorted(exp.presets)}")
    for preset in sorted(set(reg.presets) & set(exp.presets)):
        values = config_to_dict(make_config(exp, preset))
        for key, value in reg.presets[preset].items():
            if key not in values:
                found.append(f"preset {preset}: registered design key {key!r} is not a config field")
            elif not _same(values[key], value):
                found.append(f"preset {preset}: {key} = {values[key]!r} in code, {value!r} registered")
        for e in reg.claims.values():
            for key, value in e.keys.items():
                if key not in values:
                    found.append(f"claim {e.name}: registered key {key!r} is not a config field")
                elif not _same(values[key], value):
                    found.append(f"claim {e.name}: {key} = {values[key]!r} at preset {preset}, {value!r} registered")
    for e in reg.claims.values():
        if e.name.endswith("_posthoc") and e.replaces not in reg.claims:
            found.append(f"claim {e.name}: post hoc, but replaces {e.replaces!r}, which is not registered")
        for size, keys in e.design.items():
            for key in [keys] if isinstance(keys, str) else keys:
                if not any(key in p for p in reg.presets.values()):
                    found.append(f"claim {e.name}: design {size} names {key!r}, which no preset registers")
    return [f"{exp.name}: {p}" for p in found]


def _size(values: Mapping[str, Any], keys: str | Sequence[str]) -> Any:
    """A design size: a sequence of levels as is; otherwise the product of counts (a sequence counts its length)."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    if len(keys) == 1 and isinstance(values[keys[0]], (list, tuple)):
        return list(values[keys[0]])
    n = 1
    for k in keys:
        v = values[k]
        n *= len(v) if isinstance(v, (list, tuple)) else int(v)
    return n


def designs(experiments: Iterable[type[Experiment]] | None = None) -> list[Design]:
    """The registered design of every claim with a simulated interval method, at every registered preset."""
    if experiments is None:
        experiments = list_experiments()
    out = []
    for exp in experiments:
        reg = load(exp)
        if reg is None:
            continue
        for preset, design in sorted(reg.presets.items()):
            values = {**config_to_dict(make_config(exp, preset)), **design} if preset in exp.presets else dict(design)
            for e in reg.claims.values():
                if e.method in SIMULATED_METHODS:
                    sizes = {k: _size(values, keys) for k, keys in e.design.items()}
                    if e.method.endswith("slope"):
                        sizes["levels"] = list(sizes["levels"])
                    out.append(Design(exp.name, preset, e.name, e.method, sizes))
    return out
