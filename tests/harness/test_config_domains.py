"""Every config field of every experiment declares its domain; make_config either returns an in-domain
config or raises one ConfigError line naming a key, whatever it is given (hypothesis)."""

from __future__ import annotations

import dataclasses
import sqlite3
import string

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wgflow.domains import MAX_INT, MAX_SEED, SEED, Bool, Choice, Float, Floats, Int, Ints, Text, check_seed
from wgflow.harness import ConfigError, list_experiments, make_config

EXPERIMENTS = [e for e in list_experiments() if e.__module__.startswith("wgflow.")]


def test_every_field_of_every_experiment_declares_a_domain():
    assert len(EXPERIMENTS) >= 11
    for exp in EXPERIMENTS:
        fields = [f.name for f in dataclasses.fields(exp.Config)]
        domains = getattr(exp.Config, "domains", {})
        missing = [k for k in fields if k not in domains]
        assert not missing, (
            f"{exp.name}: config field(s) {missing} of {exp.Config.__name__} have no domain; add "
            f"them to its `domains` ClassVar (see wgflow.domains)"
        )
        assert not set(domains) - set(fields), f"{exp.name}: domains for unknown fields {set(domains) - set(fields)}"


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.name)
def test_defaults_and_presets_lie_in_their_domains(exp):
    for preset in exp.presets:
        cfg = make_config(exp, preset)
        for key, dom in exp.Config.domains.items():
            v = getattr(cfg, key)
            assert dom.parse(key, v) == v, (exp.name, preset, key)
            assert dom.parse(key, _cli(v)) == v, (exp.name, preset, key)  # the CLI spelling round-trips


def _cli(v) -> str:
    """How a user writes ``v`` after ``--set key=``."""
    if isinstance(v, tuple):
        return ",".join(map(repr, v))
    return repr(v) if isinstance(v, float) else str(v)


def _valid(dom) -> st.SearchStrategy:
    """Values inside a domain (to check that valid configs pass or fail only on a cross-field rule)."""
    if isinstance(dom, Int):
        lo = dom.lo if dom.lo is not None else -1000
        return st.integers(lo, min(dom.hi if dom.hi is not None else MAX_INT, lo + 1000))
    if isinstance(dom, Float):
        return st.floats(
            dom.lo if dom.lo is not None else -1e3,
            dom.hi if dom.hi is not None else 1e3,
            exclude_min=dom.open_lo and dom.lo is not None,
            exclude_max=dom.open_hi and dom.hi is not None,
        )
    if isinstance(dom, Bool):
        return st.booleans()
    if isinstance(dom, Choice):
        return st.sampled_from(dom.options)
    if isinstance(dom, Text):
        return st.text(string.ascii_letters + string.digits + "./-_", max_size=12)
    assert isinstance(dom, (Ints, Floats)), dom
    items = st.lists(_valid(dom.elem), min_size=dom.min_len, max_size=dom.min_len + 3, unique=True)
    return items.map(lambda xs: tuple(sorted(xs)) if dom.increasing else tuple(xs))


_JUNK = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "()",
            "nan",
            "-inf",
            "1e999",
            "0",
            "-1",
            "1.5",
            "2**63",
            "1,2",
            "3,2,1",
            "(0,)",
            "true",
            str(2**63),
            "\x00",
        ]
    ),
    st.lists(st.one_of(st.integers(-5, 10**4), st.floats(), st.text(max_size=3)), max_size=4).map(tuple),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**70), 2**70).map(str),
)


@st.composite
def _overrides(draw, exp):
    domains = exp.Config.domains
    keys = draw(st.lists(st.sampled_from(sorted(domains)), min_size=1, max_size=4, unique=True))
    out = {}
    for k in keys:
        kind = draw(st.sampled_from(["valid", "cli", "junk"]))
        v = draw(_JUNK) if kind == "junk" else draw(_valid(domains[k]))
        out[k] = _cli(v) if kind == "cli" else v
    return out


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.name)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_make_config_returns_an_in_domain_config_or_one_line_naming_a_key(exp, data):
    overrides = data.draw(_overrides(exp))
    fields = [f.name for f in dataclasses.fields(exp.Config)]
    try:
        cfg = make_config(exp, "quick", overrides)
    except ConfigError as e:
        msg = str(e)
        assert "\n" not in msg and len(msg) < 400, msg
        assert any(k in msg for k in fields), msg  # names the key (or the keys of a cross-field rule)
        if len(overrides) == 1 and "config key" in msg:
            assert repr(next(iter(overrides))) in msg, msg
        return
    for key, dom in exp.Config.domains.items():  # nothing out of its domain gets through
        v = getattr(cfg, key)
        assert dom.parse(key, v) == v and type(v) is type(getattr(exp.Config(), key)), (key, v)


@pytest.mark.parametrize(
    "value, ok",
    [
        (0, True),
        (MAX_SEED, True),
        ("17", True),
        (-1, False),
        (MAX_SEED + 1, False),
        (2**63, False),
        (1.5, False),
        ("x", False),
        (True, False),
    ],
)
def test_seed_domain(value, ok):
    if ok:
        assert check_seed(value) == int(value)
    else:
        with pytest.raises(ConfigError, match="--seed"):
            check_seed(value)


def test_the_largest_seed_works_with_every_generator_and_the_store(tmp_path):
    from wgflow.store import Store

    s = SEED.hi
    # the experiments' seed arithmetic (largest: 1_000_003 * seed + offsets; data_seed + seed)
    torch.Generator().manual_seed(1_000_003 * s + 1009 * 1000 + 10**6)
    np.random.default_rng(s)
    np.random.RandomState(s + s)  # legacy seeding (scikit-learn's random_state) takes < 2**32
    with Store(tmp_path / "st") as store:
        rid = store.create_run("x", {}, s)
        assert store.get_run(rid)["seed"] == s
    with pytest.raises(OverflowError):  # what an unbounded seed would hit (the seed 2**63)
        sqlite3.connect(":memory:").execute("SELECT ?", (2**63,))


def test_domain_messages_and_edge_cases():
    with pytest.raises(ConfigError, match=r"'eta': inf is not finite; expected a finite number > 0"):
        Float(0, open_lo=True).parse("eta", "inf")
    with pytest.raises(ConfigError, match=r"'eta'"):
        Float(0).parse("eta", 10**400)  # overflows a float
    with pytest.raises(ConfigError, match="0 value"):
        Ints(1).parse("dims", "")
    with pytest.raises(ConfigError, match="not increasing"):
        Ints(1, increasing=True).parse("n_values", "4,4")
    assert Ints(1).parse("dims", "(5,)") == (5,) and Ints(1).parse("dims", "[3, 4]") == (3, 4)
    assert Int(1).parse("steps", "2e3") == 2000 and Int(0).parse("k", np.int64(3)) == 3
    for bad in (True, 1.5, "1.5", "", None, [1]):
        with pytest.raises(ConfigError):
            Int(0).parse("k", bad)
    assert Bool().parse("b", "Yes") is True and Choice("a", "b").parse("c", "b") == "b"
    with pytest.raises(ConfigError):
        Text().parse("data_dir", "a\x00b")


def test_a_field_without_a_domain_gets_that_of_its_default():
    from wgflow.harness.configs import field_domain

    @dataclasses.dataclass(frozen=True)
    class Plain:
        n: int = 3
        eta: float = 0.5
        on: bool = True
        label: str = "x"
        widths: tuple = (8, 16)
        extra: object = None

    f = {x.name: x for x in dataclasses.fields(Plain)}
    assert field_domain(Plain, f["n"]).parse("n", "7") == 7
    assert field_domain(Plain, f["eta"]).parse("eta", "2") == 2.0
    assert field_domain(Plain, f["on"]).parse("on", "off") is False
    assert field_domain(Plain, f["widths"]).parse("widths", "4,8") == (4, 8)
    assert field_domain(Plain, f["extra"]).parse("extra", "[1, 2]") == [1, 2]
    for key, bad in (("n", "1.5"), ("eta", "nan"), ("on", "maybe"), ("widths", "a,b"), ("extra", "{")):
        with pytest.raises(ConfigError, match=f"config key '{key}'"):
            field_domain(Plain, f[key]).parse(key, bad)


@pytest.mark.parametrize(
    "kw,key",
    [({"eta": 0}, "eta"), ({"steps": -1}, "steps"), ({"alpha": "lazy"}, "alpha"), ({"batch_size": 0}, "batch_size"),
     ({"n_snapshots": 1}, "n_snapshots"), ({"eta": "0.1"}, "eta"), ({"steps": 10.0}, "steps"),
     ({"schedule": "cosine"}, "schedule"), ({"batch_schedule": ((0, 0),)}, "batch_schedule")],
)  # fmt: skip
def test_flow_config_checks_its_fields_with_the_same_domains(kw, key):
    from wgflow.flows import FlowConfig

    with pytest.raises(ConfigError, match=f"FlowConfig.{key}"):
        FlowConfig(**kw)
    FlowConfig(alpha="ntk", batch_size=None, eta=1)  # an int stands for a float
