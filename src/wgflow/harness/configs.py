"""Building an experiment's config: every value parsed by its field's domain, then the cross-field rules.

A config field declares its domain in ``Config.domains`` (:mod:`wgflow.domains`); a field without one
(an experiment of your own that declares none) gets the plain domain of its default's type:
:func:`field_domain`. There is no other way a value gets into a config.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ..domains import Bool, Domain, Float, Floats, Int, Ints, Json, Text
from ..errors import ConfigError
from .claims import jsonable
from .contract import Experiment
from .registry import get_experiment

__all__ = ["make_config", "config_to_dict", "field_domain", "preset_config"]


def field_domain(config: type, f: dataclasses.Field) -> Domain:
    """The domain of field ``f`` of ``config``: the declared one, else that of its default's type."""
    declared = getattr(config, "domains", {}).get(f.name)
    if declared is not None:
        return declared
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int(None, None)
    if isinstance(default, float):
        return Float()
    if isinstance(default, str):
        return Text()
    if isinstance(default, tuple):
        if default and all(isinstance(x, int) and not isinstance(x, bool) for x in default):
            return Ints(None, None, min_len=0)
        return Floats(min_len=0)
    return Json()


def make_config(
    exp: type[Experiment] | str, preset: str = "quick", overrides: Mapping[str, Any] | None = None, **kw: Any
):
    """Build and validate an experiment config from a preset and overrides.

    Every value is parsed by its field's domain (:func:`field_domain`), then the config's
    ``validate(self)`` checks the cross-field rules. Unknown keys, wrong types and out-of-range
    values raise :class:`ConfigError` with a one-line message naming the key; nothing else escapes.
    """
    if isinstance(exp, str):
        exp = get_experiment(exp)
    if preset not in exp.presets:
        raise ConfigError(f"unknown preset {preset!r} for {exp.name}; choose one of: {', '.join(exp.presets)}")
    fields = {f.name: f for f in dataclasses.fields(exp.Config)}
    values: dict[str, Any] = {}
    merged = {**exp.presets[preset], **dict(overrides or {}), **kw}
    for key, value in merged.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {str(key)[:60]!r} for {exp.name}; allowed keys: {', '.join(fields)}")
        values[key] = field_domain(exp.Config, fields[key]).parse(key, value)
    try:
        cfg = exp.Config(**values)
    except TypeError as e:
        raise ConfigError(f"bad config for {exp.name}: {e}") from None
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
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=jsonable))


def preset_config(name: str, preset: str) -> dict[str, Any] | None:
    """The config of experiment ``name``'s ``preset`` as it is now (JSON-ready), or None when the experiment
    or the preset is not registered: what a stored record is compared with to tell it stale."""
    try:
        return config_to_dict(make_config(name, preset))
    except ConfigError:
        return None
