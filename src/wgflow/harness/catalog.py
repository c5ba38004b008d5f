"""Experiment metadata without importing the experiments (no torch): ``wgflow list`` reads it.

:func:`catalog` finds the source of every module named by wgflow's own entry points (the packages
of :mod:`wgflow.experiments`), parses it with :mod:`ast` and reads the class attributes ``name``,
``title`` and ``reference`` of each ``@register`` class (literal strings). A module whose metadata
cannot be read statically (computed attributes) is imported, as is every other experiment
(``$WGFLOW_EXPERIMENTS``, other distributions' entry points): the answer is always the registry's.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from .contract import registered
from .plugins import ENV, entry_points
from .registry import list_experiments

__all__ = ["Entry", "catalog", "static_entries", "module_sources", "static_module"]


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


def module_sources(module: str) -> list[Path] | None:
    """The source files of ``module`` (every ``*.py`` of a package), found without importing it; None if not found.

    Finding a submodule imports its parent packages (for wgflow's experiments: :mod:`wgflow.experiments`, torch-free)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    origin = Path(spec.origin)
    return sorted(origin.parent.glob("*.py")) if spec.submodule_search_locations else [origin]


def _static_module_entries(module: str) -> list[Entry] | None:
    files = module_sources(module)
    if files is None:
        return None
    out: list[Entry] = []
    for f in files:
        found = static_entries(f)
        if found is None:
            return None
        out += found
    return out or None


def catalog() -> list[Entry]:
    """Every registered experiment, sorted by name; imports only what cannot be read statically."""
    entries: dict[str, Entry] = {}
    dynamic = bool(os.environ.get(ENV))
    for ep in entry_points():
        found = _static_module_entries(ep.value) if ":" not in ep.value else None
        if found is None:
            dynamic = True
        for en in found or []:
            entries[en.name] = en
    registered_now = list_experiments() if dynamic else list(registered().values())
    for exp in registered_now:  # also those registered in this process (a script's own @register)
        entries[exp.name] = Entry(exp.name, exp.title, exp.reference)
    return [entries[k] for k in sorted(entries)]


def static_module(name: str) -> str | None:
    """The module of wgflow's entry points that registers experiment ``name``, read without importing it;
    None when the registry must be asked (``$WGFLOW_EXPERIMENTS`` set, ``name`` registered in this
    process or registered by no module read statically)."""
    if os.environ.get(ENV) or name in registered():
        return None
    for ep in entry_points():
        if ":" not in ep.value and any(en.name == name for en in _static_module_entries(ep.value) or []):
            return ep.value
    return None
