"""Declarative domains of config fields: every key says what values it accepts, checked in one place.

An experiment's config declares, at the end of its class body::

    domains: ClassVar[dict[str, Domain]] = {
        "n": Int(1), "eta": Float(0, open_lo=True), "init": Choice("sphere", "gaussian"),
        "n_values": Ints(1, min_len=2, increasing=True), ...}

:func:`~wgflow.harness.configs.make_config` parses every value (CLI strings or Python values)
with its field's domain before the config exists, so a bad value is one line naming the key
(:class:`ConfigError`), before anything is written. Cross-field rules stay in the config's
``validate()``. Settings built in code (:class:`wgflow.flows.FlowConfig`) check their fields against
the same domains with :func:`check_fields`. Every number is finite; sizes are bounded by :data:`MAX_INT` (a C ``int``), and
run seeds by :data:`SEED` (numpy's legacy seeds, ``torch.manual_seed`` after the experiments'
seed arithmetic, and SQLite's 64-bit INTEGER all accept ``[0, 2**31)``). Sizes that pass their
domain may still not fit the machine: :func:`check_fits` compares the bytes of the largest tensor
a size implies with the memory available now, before it is allocated.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = [
    "Domain",
    "Int",
    "Float",
    "Bool",
    "Choice",
    "Text",
    "Json",
    "OrNone",
    "AnyOf",
    "check_fields",
    "Ints",
    "Floats",
    "MAX_INT",
    "MAX_SEED",
    "SEED",
    "check_seed",
    "parse_tuple_text",
    "available_memory",
    "check_fits",
]

MAX_INT = 2**31 - 1  # sizes and counts: torch indexing and every C int downstream
MAX_SEED = 2**31 - 1  # run and data seeds: experiments derive generators as a * seed + b (< 2**63 for torch) and
#   data_seed + seed (< 2**32 for numpy's legacy seeding)


class Domain:
    """Values a config field accepts: :meth:`parse` coerces (CLI strings too) and checks, or raises."""

    def parse(self, key: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _parse_checked(self, key: str, value: Any, convert, check) -> Any:
        try:
            v = convert(value)
        except (ValueError, TypeError, OverflowError):
            raise self.bad(key, value) from None
        why = check(v)
        if why:
            raise self.bad(key, value, why)
        return v

    def bad(self, key: str, value: Any, why: str | None = None) -> ConfigError:
        text = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return ConfigError(
            f"config key {key!r}: {why or 'cannot use ' + text}; expected {self.describe()}".replace("\n", " ")
        )


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iu":  # numpy scalar
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            f = float(value)  # "2e6"
            if not (f.is_integer() and abs(f) < 2**53):
                raise
            return int(f)
    raise ValueError


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or (not isinstance(value, (int, float, str)) and not hasattr(value, "__float__")):
        raise ValueError
    return float(value.strip() if isinstance(value, str) else value)  # OverflowError for huge ints


def _range_text(lo, hi, open_lo=False, open_hi=False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}"
    if lo is not None:
        return f"{'>' if open_lo else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if open_hi else '<='} {hi:g}"
    return "(any)"


@dataclass(frozen=True)
class Int(Domain):
    """An integer in ``[lo, hi]`` (``hi`` defaults to :data:`MAX_INT`)."""

    lo: int | None = None
    hi: int | None = MAX_INT

    def check(self, v: int) -> str | None:
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            return f"{v} is out of range"
        return None

    def parse(self, key, value):
        return self._parse_checked(key, value, _to_int, self.check)

    def describe(self):
        if self.lo is not None and self.hi is not None:
            return f"an integer in [{self.lo}, {self.hi}]"
        return f"an integer {_range_text(self.lo, self.hi)}"


@dataclass(frozen=True)
class Float(Domain):
    """A finite real from ``lo`` to ``hi`` (open ends with ``open_lo`` / ``open_hi``)."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False

    def check(self, v: float) -> str | None:
        if not math.isfinite(v):
            return f"{v} is not finite"
        if self.lo is not None and (v < self.lo or (self.open_lo and v == self.lo)):
            return f"{v:g} is out of range"
        if self.hi is not None and (v > self.hi or (self.open_hi and v == self.hi)):
            return f"{v:g} is out of range"
        return None

    def parse(self, key, value):
        return self._parse_checked(key, value, _to_float, self.check)

    def describe(self):
        return f"a finite number {_range_text(self.lo, self.hi, self.open_lo, self.open_hi)}"


@dataclass(frozen=True)
class Bool(Domain):
    """true/false (also 1/0, yes/no, on/off on the command line)."""

    def parse(self, key, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        raise self.bad(key, value)

    def describe(self):
        return "true or false"


class Choice(Domain):
    """One of a fixed set of strings."""

    def __init__(self, *options: str):
        self.options = tuple(options)

    def parse(self, key, value):
        if isinstance(value, str) and value in self.options:
            return value
        raise self.bad(key, value, f"{value!r} is not allowed" if isinstance(value, str) else None)

    def describe(self):
        return "one of: " + ", ".join(self.options)

    def __repr__(self):
        return f"Choice{self.options!r}"


@dataclass(frozen=True)
class Text(Domain):
    """A free string (a path, a label) without control characters, at most ``max_len`` characters."""

    max_len: int = 4096

    def parse(self, key, value):
        if not isinstance(value, str) or len(value) > self.max_len or any(ord(ch) < 32 for ch in value):
            raise self.bad(key, value)
        return value

    def describe(self):
        return f"a string of at most {self.max_len} printable characters"


class Json(Domain):
    """Any value; a string (from the command line) is read as JSON (``null``, lists, numbers)."""

    def parse(self, key, value):
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise self.bad(key, value) from None

    def describe(self):
        return "a JSON value"


@dataclass(frozen=True)
class OrNone(Domain):
    """None, or a value of the domain ``inner`` (``"none"`` on the command line)."""

    inner: Domain

    def parse(self, key, value):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            return None
        return self.inner.parse(key, value)

    def describe(self):
        return f"none or {self.inner.describe()}"


class AnyOf(Domain):
    """A value of the first of ``domains`` that accepts it: ``AnyOf(Float(0, open_lo=True), Choice("ntk"))``."""

    def __init__(self, *domains: Domain):
        self.domains = tuple(domains)

    def parse(self, key, value):
        for domain in self.domains:
            try:
                return domain.parse(key, value)
            except ConfigError:
                continue
        raise self.bad(key, value)

    def describe(self):
        return " or ".join(d.describe() for d in self.domains)


def check_fields(obj: Any, domains: dict[str, Domain], owner: str) -> None:
    """Check (not convert) every field of ``obj`` named in ``domains``; a one-line :class:`ConfigError`
    naming ``owner.key`` otherwise. For objects built in code, whose values are already typed."""
    for key, domain in domains.items():
        value = getattr(obj, key)
        parsed = domain.parse(f"{owner}.{key}", value)
        if not _unchanged(parsed, value):
            raise domain.bad(f"{owner}.{key}", value)


def _unchanged(parsed: Any, value: Any) -> bool:
    """Whether ``value`` already is what parsing made of it (an int may stand for a float, not a string for a number)."""
    if isinstance(value, str) != isinstance(parsed, str):
        return False
    if isinstance(parsed, int) and not isinstance(parsed, bool) and not isinstance(value, int):
        return False
    return bool(parsed == value)


def parse_tuple_text(value: str) -> list[str]:
    """``"1,2,3"``, ``"(1, 2, 3)"`` or ``"[1,2]"`` -> item strings (``""`` and ``"()"`` -> ``[]``)."""
    inner = value.strip()
    if inner[:1] in "([" and inner[-1:] in ")]":
        inner = inner[1:-1]
    items = [s.strip() for s in inner.split(",")]
    if items == [""]:
        return []
    if items[-1] == "" and len(items) > 1:  # "(5,)"
        items = items[:-1]
    return items


@dataclass(frozen=True)
class _Seq(Domain):
    elem: Any = None
    min_len: int = 1
    increasing: bool = False  # strictly
    noun: str = "numbers"

    def parse(self, key, value):
        if isinstance(value, str):
            value = parse_tuple_text(value)
        if isinstance(value, (str, bytes, dict, set)) or not hasattr(value, "__iter__"):
            raise self.bad(key, value)
        try:
            items = list(value)
        except TypeError:
            raise self.bad(key, value) from None
        if len(items) < self.min_len:
            raise self.bad(key, value, f"{len(items)} value(s) given")
        if len(items) > 10_000:
            raise self.bad(key, value, "too many values")
        out = []
        for x in items:
            try:
                out.append(self.elem.parse(key, x))
            except ConfigError:
                raise self.bad(key, value, f"item {str(x)[:30]!r} is not allowed") from None
        if self.increasing and any(b <= a for a, b in itertools.pairwise(out)):
            raise self.bad(key, value, "values are not increasing")
        return tuple(out)

    def describe(self):
        order = " increasing" if self.increasing else ""
        return f"at least {self.min_len}{order} {self.noun}, each {self.elem.describe().split(' ', 2)[-1]}"


class Ints(_Seq):
    """A tuple of integers in ``[lo, hi]``: ``Ints(1, min_len=2, increasing=True)`` for widths."""

    def __init__(self, lo: int | None = None, hi: int | None = MAX_INT, *, min_len: int = 1, increasing: bool = False):
        super().__init__(Int(lo, hi), min_len, increasing, "integers")


class Floats(_Seq):
    """A tuple of finite reals (same range arguments as :class:`Float`)."""

    def __init__(
        self,
        lo: float | None = None,
        hi: float | None = None,
        *,
        open_lo: bool = False,
        open_hi: bool = False,
        min_len: int = 1,
        increasing: bool = False,
    ):
        super().__init__(Float(lo, hi, open_lo, open_hi), min_len, increasing, "numbers")


SEED = Int(0, MAX_SEED)


def check_seed(seed: Any, what: str = "--seed") -> int:
    """A run seed in ``[0, 2**31)``, or a one-line :class:`ConfigError` naming ``what``."""
    try:
        return SEED.parse(what, seed)
    except ConfigError:
        raise ConfigError(f"{what}: cannot use {seed!r}; expected an integer in [0, {MAX_SEED}]") from None


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now: ``MemAvailable`` of ``/proc/meminfo``
    (Linux), else the physical memory (``os.sysconf``); None where neither can be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(nbytes: float, what: str, remedy: str) -> None:
    """A one-line :class:`ConfigError` when ``what`` (a tensor about to be allocated) needs more than the
    memory available (:func:`available_memory`), naming both sizes and the ``remedy``."""
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise ConfigError(f"{what} needs {nbytes / 2**30:.3g} GiB, {avail / 2**30:.3g} GiB available; {remedy}")
