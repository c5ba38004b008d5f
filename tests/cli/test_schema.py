"""`wgflow show NAME --schema`: the config's JSON Schema accepts every preset and rejects bad values."""

from __future__ import annotations

import json
import math

import pytest

from wgflow.cli import app as cli
from wgflow.cli.schema import DRAFT, config_schema, domain_schema
from wgflow.domains import AnyOf, Bool, Choice, Float, Floats, Int, Ints, OrNone, Text
from wgflow.harness import config_to_dict, list_experiments, make_config

_TYPES = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def errors(schema: dict, v, where: str = "$") -> list[str]:
    """The subset of JSON Schema that `config_schema` emits, checked independently of it."""
    if "anyOf" in schema:
        return [] if any(not errors(s, v) for s in schema["anyOf"]) else [f"{where}: no alternative fits {v!r}"]
    if "type" in schema and not _TYPES[schema["type"]](v):
        return [f"{where}: {v!r} is not {schema['type']}"]
    checks = {
        "minimum": lambda b: v >= b,
        "maximum": lambda b: v <= b,
        "exclusiveMinimum": lambda b: v > b,
        "exclusiveMaximum": lambda b: v < b,
        "enum": lambda b: v in b,
        "maxLength": lambda b: len(v) <= b,
        "minItems": lambda b: len(v) >= b,
        "maxItems": lambda b: len(v) <= b,
    }
    out = [
        f"{where}: {k} {schema[k]!r} fails for {v!r}" for k, ok in checks.items() if k in schema and not ok(schema[k])
    ]
    for i, item in enumerate(v if "items" in schema else []):
        out += errors(schema["items"], item, f"{where}[{i}]")
    for key, item in v.items() if schema.get("type") == "object" else []:
        if key not in schema["properties"]:
            out += [f"{where}: unknown key {key!r}"] if schema.get("additionalProperties") is False else []
        else:
            out += errors(schema["properties"][key], item, f"{where}.{key}")
    return out


def test_domains_map_to_their_schema():
    assert domain_schema(Int(1, 5)) == {"type": "integer", "minimum": 1, "maximum": 5}
    assert domain_schema(Float(0, 1, open_lo=True)) == {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
    assert domain_schema(Choice("a", "b")) == {"type": "string", "enum": ["a", "b"]}
    assert domain_schema(Bool()) == {"type": "boolean"} and domain_schema(Text(9)) == {"type": "string", "maxLength": 9}
    ints = domain_schema(Ints(1, min_len=2))
    assert ints["type"] == "array" and ints["minItems"] == 2 and ints["items"]["minimum"] == 1
    assert domain_schema(Floats(0))["items"] == {"type": "number", "minimum": 0}
    assert domain_schema(OrNone(Bool())) == {"anyOf": [{"type": "null"}, {"type": "boolean"}]}
    assert domain_schema(AnyOf(Int(0), Choice("x")))["anyOf"][1]["enum"] == ["x"]


@pytest.mark.parametrize("exp", list_experiments(), ids=lambda e: e.name)
def test_every_preset_validates_against_the_schema(exp):
    schema = json.loads(json.dumps(config_schema(exp)))  # valid JSON, as printed
    assert schema["$schema"] == DRAFT and schema["type"] == "object"
    for preset in exp.presets:
        cfg = config_to_dict(make_config(exp, preset))
        assert errors(schema, cfg) == [], (exp.name, preset)
    for key, prop in schema["properties"].items():  # the bounds bite: one step outside is rejected
        if prop.get("type") == "integer" and "minimum" in prop:
            assert errors(schema, {key: prop["minimum"] - 1}), key
    assert errors(schema, {"no_such_key": 1})


def test_schema_is_valid_draft_2020_12_for_jsonschema():
    jsonschema = pytest.importorskip("jsonschema")
    for exp in list_experiments():
        schema = config_schema(exp)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(config_to_dict(make_config(exp, "quick")))


def test_show_schema_prints_the_schema_with_defaults_and_comments(capsys):
    assert cli.main(["show", "fake-machinery", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    steps = schema["properties"]["steps"]
    assert steps == {"type": "integer", "default": 40, "description": "iterations of the fake flow"}
    assert schema["properties"]["mode"]["enum"] == ["ok", "diverge", "interrupt", "error"]
