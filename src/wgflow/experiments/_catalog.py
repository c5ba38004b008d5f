"""Experiment metadata without importing the experiments (no torch): ``wgflow list`` reads it.

:func:`catalog` parses the source of every built-in experiment module with :mod:`ast` and reads
the class attributes ``name``, ``title`` and ``reference`` of each ``@register`` class (literal
strings). A module whose metadata cannot be read statically (computed attributes) is imported,
as is every external experiment (``$WGFLOW_EXPERIMENTS``, entry points): the answer is always the
registry's.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Entry", "catalog", "static_entries"]


@dataclass(frozen=True)
class Entry:
    """What ``wgflow list`` shows of one experiment."""

    name: str
    title: str
    reference: str


def _registered_classes(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            (isinstance(d, ast.Name) and d.id == "register") or (isinstance(d, ast.Attribute) and d.attr == "register")
            for d in node.decorator_list
        ):
            yield node


def static_entries(path: Path) -> list[Entry] | None:
    """The experiments registered by the module at ``path``, or None if they cannot be read statically."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    consts = {}  # module-level string constants (reference = _SOURCE)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                consts[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    out = []
    for cls in _registered_classes(tree):
        attrs = {}
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                key = stmt.targets[0].id
                if key in ("name", "title", "reference"):
                    if isinstance(stmt.value, ast.Name) and stmt.value.id in consts:
                        attrs[key] = consts[stmt.value.id]
                        continue
                    try:
                        attrs[key] = ast.literal_eval(stmt.value)
                    except ValueError:
                        return None
        if not all(isinstance(attrs.get(k), str) for k in ("name", "title", "reference")):
            return None
        out.append(Entry(attrs["name"], attrs["title"], attrs["reference"]))
    return out


def _has_external() -> bool:
    from ._external import ENTRY_POINT_GROUP, ENV

    return bool(os.environ.get(ENV)) or bool(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def catalog() -> list[Entry]:
    """Every registered experiment, sorted by name; imports only what cannot be read statically."""
    from . import __path__ as pkg_path
    from . import builtin_modules

    entries: dict[str, Entry] = {}
    dynamic = []
    for mod in builtin_modules():
        found = static_entries(Path(pkg_path[0]) / f"{mod}.py")
        if found is None:
            dynamic.append(mod)
        for en in found or []:
            entries[en.name] = en
    from .base import _REGISTRY, list_experiments

    registered = list_experiments() if dynamic or _has_external() else list(_REGISTRY.values())
    for exp in registered:  # also those registered in this process (a script's own @register)
        entries[exp.name] = Entry(exp.name, exp.title, exp.reference)
    return [entries[k] for k in sorted(entries)]
