"""Where experiments come from: the entry point group ``wgflow.experiments``, Python files and folders.

Every experiment, built-in or not, comes in the same ways, all read by the registry
(:mod:`wgflow.harness.registry`), so it is listed, run, swept, stored and reported alike:

* an entry point in the group ``wgflow.experiments``, e.g. in a pyproject.toml
  ``[project.entry-points."wgflow.experiments"] my-exp = "mypkg.experiments"``: the object named (a
  module, imported for its ``@register`` side effects, or an Experiment class) is loaded. wgflow
  declares its own experiments this way, one entry per package of :mod:`wgflow.experiments`; from a
  source checkout (``src/wgflow`` beside the pyproject.toml that declares it) they are read from that
  pyproject.toml, so an editable install whose metadata predates a new experiment still finds it.
* ``$WGFLOW_EXPERIMENTS``: paths separated by ``os.pathsep`` (":" on Unix), each a ``.py`` file or a
  folder whose ``*.py`` files (not starting with "_") are imported; ``wgflow --experiments-path PATH``
  adds to it for one command.
* ``wgflow run path/to/exp.py``: the file is imported and its one experiment is run.

A file is imported once, as module ``wgflow_external_<stem>_<hash of its path>`` (the same name in
sweep worker processes). A file or entry point that fails to import is a one-line :class:`ConfigError`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

from ..errors import ConfigError
from .contract import Experiment, register, registered

__all__ = [
    "ENV",
    "ENTRY_POINT_GROUP",
    "entry_points",
    "load_entry_points",
    "load_experiments",
    "load_file",
    "experiment_files",
    "import_file",
]


def import_file(name: str, path: str | os.PathLike) -> None:
    """Import the Python file ``path`` as module ``name`` (in ``sys.modules``; removed again if it fails)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise


ENV = "WGFLOW_EXPERIMENTS"
ENTRY_POINT_GROUP = "wgflow.experiments"
_loaded: dict[Path, list[str]] = {}
_entry_points_done = False


def module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = "".join(ch if ch.isalnum() else "_" for ch in path.stem)
    return f"wgflow_external_{stem}_{digest}"


def load_file(path: str | os.PathLike) -> list[str]:
    """Import an experiment file (once); returns the names of the experiments it registered."""
    p = Path(path).expanduser().resolve()
    if p in _loaded:
        return _loaded[p]
    if p.suffix != ".py" or not p.is_file():
        raise ConfigError(f"experiment file {path} does not exist or is not a .py file")
    name = module_name(p)
    before = set(registered())
    if name not in sys.modules:
        try:
            import_file(name, p)
        except Exception as e:
            raise ConfigError(f"cannot load experiments from {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    now = registered()
    names = sorted(set(now) - before) or sorted(k for k, v in now.items() if v.__module__ == name)
    _loaded[p] = names
    return names


def experiment_files(spec: str) -> list[Path]:
    """The .py files named by a WGFLOW_EXPERIMENTS value (files, or folders of files)."""
    out: list[Path] = []
    for part in filter(None, spec.split(os.pathsep)):
        p = Path(part).expanduser()
        if p.is_dir():
            out += sorted(f for f in p.glob("*.py") if not f.name.startswith("_"))
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"{ENV} names {part!r}, which is neither a .py file nor a folder")
    return out


def _source_checkout_entry_points() -> list[importlib.metadata.EntryPoint] | None:
    """wgflow's own entry points of the group, read from the pyproject.toml of a source checkout, else None."""
    try:
        tomllib = importlib.import_module("tomllib")  # Python >= 3.11; older ones read the installed metadata only
    except ImportError:
        return None
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"  # <root>/src/wgflow/harness/plugins.py
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError):
        return None
    if project.get("name") != "wgflow":
        return None
    group = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return [importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in group.items()]


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The entry points of the group ``wgflow.experiments``: wgflow's own first, then other distributions'."""
    installed = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    own = _source_checkout_entry_points()
    if own is None:
        return installed
    others = [ep for ep in installed if ep.dist is None or ep.dist.name != "wgflow"]
    return own + others


def load_entry_points() -> None:
    """Load every entry point of the group (once): wgflow's experiments and installed plugins."""
    global _entry_points_done
    if _entry_points_done:
        return
    _entry_points_done = True
    for ep in entry_points():
        try:
            obj = ep.load()
        except Exception as e:
            raise ConfigError(
                f"cannot load entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP}: "
                f"{type(e).__name__}: {e}".splitlines()[0]
            ) from None
        if isinstance(obj, type) and issubclass(obj, Experiment) and obj.name not in registered():
            register(obj)


def load_experiments() -> None:
    """Load the experiments of the entry points (once) and of ``$WGFLOW_EXPERIMENTS``."""
    load_entry_points()
    for f in experiment_files(os.environ.get(ENV, "")):
        load_file(f)
