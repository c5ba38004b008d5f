"""``wgflow show NAME --schema``: an experiment's config as a JSON Schema (draft 2020-12).

Built from the config dataclass's fields and their :mod:`wgflow.domains` domains (the declared one,
else that of the default's type, as :func:`~wgflow.harness.configs.make_config` parses them); each
field's trailing comment becomes its description. What a schema cannot say (a finite float, a
strictly increasing tuple, the config's cross-field ``validate``) stays with ``make_config``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..domains import AnyOf, Bool, Choice, Domain, Float, Floats, Int, Ints, Json, OrNone, Text
from ..harness import Experiment
from ..harness.claims import jsonable
from ..harness.configs import field_domain
from .described import field_comments

__all__ = ["DRAFT", "config_schema", "domain_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def domain_schema(domain: Domain) -> dict[str, Any]:
    """The JSON Schema of the values ``domain`` accepts once parsed (``{}``: any value)."""
    if isinstance(domain, Bool):
        return {"type": "boolean"}
    if isinstance(domain, Int):
        return {"type": "integer", **_bounds(domain.lo, domain.hi, False, False)}
    if isinstance(domain, Float):
        return {"type": "number", **_bounds(domain.lo, domain.hi, domain.open_lo, domain.open_hi)}
    if isinstance(domain, Choice):
        return {"type": "string", "enum": list(domain.options)}
    if isinstance(domain, Text):
        return {"type": "string", "maxLength": domain.max_len}
    if isinstance(domain, (Ints, Floats)):
        return {"type": "array", "items": domain_schema(domain.elem), "minItems": domain.min_len, "maxItems": 10_000}
    if isinstance(domain, OrNone):
        return {"anyOf": [{"type": "null"}, domain_schema(domain.inner)]}
    if isinstance(domain, AnyOf):
        return {"anyOf": [domain_schema(d) for d in domain.domains]}
    if isinstance(domain, Json):
        return {}
    return {"description": domain.describe()}  # a domain of an experiment's own: its text only


def _bounds(lo, hi, open_lo: bool, open_hi: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lo is not None:
        out["exclusiveMinimum" if open_lo else "minimum"] = lo
    if hi is not None:
        out["exclusiveMaximum" if open_hi else "maximum"] = hi
    return out


def config_schema(exp: type[Experiment]) -> dict[str, Any]:
    """The JSON Schema of ``exp``'s config: one property per field with its default and comment."""
    comments = field_comments(exp.Config)
    props: dict[str, Any] = {}
    for f in dataclasses.fields(exp.Config):
        prop = domain_schema(field_domain(exp.Config, f))
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        if default is not None:
            prop["default"] = json.loads(json.dumps(default, default=jsonable))
        if comments.get(f.name):
            prop["description"] = comments[f.name]
        props[f.name] = prop
    return {
        "$schema": DRAFT,
        "title": f"{exp.name} config",
        "description": f"{exp.title} [{exp.reference}]",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
