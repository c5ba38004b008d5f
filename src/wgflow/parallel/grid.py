"""Sweep grids: ``--grid key=v1,v2`` and ``--seeds 0-9`` parsed, expanded into points, and named.

Torch-free: the command line validates a grid before anything heavy is imported.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..domains import check_seed
from ..errors import ConfigError

__all__ = ["MAX_POINTS", "parse_grid", "parse_seeds", "expand_grid", "sweep_id_for"]

MAX_POINTS = 100_000  # a sweep larger than this is a typo (0-99999999), not a plan


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["n=16,32", "eta=0.5"]`` -> ``{"n": ["16", "32"], "eta": ["0.5"]}``.

    Values are split on commas, or on semicolons when the value holds one (tuple-valued keys:
    ``schedule=(0,8);(0,16)``). Values stay strings; :func:`make_config` coerces them.
    """
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--grid expects key=v1,v2,..., got {item!r}")
        vals = [v.strip() for v in values.split(";" if ";" in values else ",") if v.strip()]
        if not vals:
            raise ConfigError(f"--grid {key}: no values")
        if key in grid:
            raise ConfigError(f"--grid {key} given twice")
        grid[key] = vals
    return grid


def parse_seeds(spec: str | Sequence[int] | None) -> list[int]:
    """``"0-9"``, ``"0,3,7"``, ``"0-4,10"`` or a list of ints -> sorted unique seeds (default [0])."""
    if spec is None or spec == "":
        return [0]
    if not isinstance(spec, str):
        return sorted({check_seed(s, "seeds") for s in spec})
    seeds: set[int] = set()
    try:
        for part in spec.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = check_seed(int(lo), "--seeds"), check_seed(int(hi) if sep else int(lo), "--seeds")
            if last - first >= MAX_POINTS:
                raise ConfigError(f"--seeds {spec!r}: more than {MAX_POINTS} seeds")
            seeds.update(range(first, last + 1))
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(f"--seeds expects e.g. 0-9 or 0,3,7 (seeds >= 0), got {spec!r}") from None
    if not seeds:
        raise ConfigError(f"--seeds {spec!r} names no seed")
    return sorted(seeds)


def expand_grid(grid: Mapping[str, Sequence[Any]], seeds: Sequence[int]) -> list[tuple[dict[str, Any], int]]:
    """Cartesian product of the grid (keys in the given order, last key fastest) x seeds."""
    keys = list(grid)
    if math.prod(len(v) for v in grid.values()) * len(seeds) > MAX_POINTS:
        raise ConfigError(f"the sweep has more than {MAX_POINTS} points; split it")
    return [(dict(zip(keys, combo)), int(s)) for combo in itertools.product(*(grid[k] for k in keys)) for s in seeds]


def sweep_id_for(name: str, preset: str, grid: Mapping[str, Sequence[Any]], seeds: Sequence[int]) -> str:
    """Deterministic id of a sweep, so the same command finds (and resumes) its points."""
    key = json.dumps([name, preset, {k: list(map(str, v)) for k, v in grid.items()}, list(seeds)], sort_keys=True)
    return f"sweep-{name}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
