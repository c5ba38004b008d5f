"""What ``wgflow show`` and ``wgflow runs`` know of an experiment, without importing it (so without torch).

An experiment's description (title, reference, config fields with types, defaults, domains and
comments, presets, and the config of each preset) is computed once by importing the experiment, then
kept as JSON in the user's cache folder (``$WGFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/wgflow``, else
``~/.cache/wgflow``) under a key made of wgflow's version and the size and modification time of every
source file of wgflow and of the experiment's module: an edited source is a new key, so a stale
description is never read. Experiments that cannot be found without importing them (plugins named by
``$WGFLOW_EXPERIMENTS``, a script's own ``@register``) are imported every time. A cache that
cannot be written is not an error: the description is then computed each time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import io
import json
import os
import re
import tokenize
from pathlib import Path
from typing import Any

from .._version import __version__
from ..harness import Experiment, config_to_dict, get_experiment, make_config
from ..harness.catalog import module_sources, static_module

__all__ = ["CACHE_ENV", "cache_dir", "described", "experiment_dict", "field_comments", "run_overrides"]

CACHE_ENV = "WGFLOW_CACHE_DIR"
_PACKAGE = Path(__file__).resolve().parents[1]
_MEMO: dict[str, dict[str, Any]] = {}


def field_comments(config_cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field line of a config dataclass's source ({} if unavailable)."""
    try:
        src = inspect.getsource(config_cls)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    names = {f.name for f in dataclasses.fields(config_cls)}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                m = re.match(r"\s*(\w+)\s*:", tok.line)
                if m and m.group(1) in names and m.group(1) not in out:
                    out[m.group(1)] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return out
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _first_paragraph(text: str) -> str:
    paras = [p for p in re.split(r"\n\s*\n", (text or "").strip()) if p.strip()]
    return " ".join(paras[0].split()) if paras else ""


def experiment_dict(exp: type[Experiment]) -> dict[str, Any]:
    """What ``wgflow show NAME`` prints of ``exp``, as data: title, reference, description and its
    first paragraph (``summary``), config fields (type, default, domain, comment), presets."""
    domains = getattr(exp.Config, "domains", {})
    comments = field_comments(exp.Config)
    fields = [
        {
            "name": f.name,
            "type": type(_default(f)).__name__ if _default(f) is not None else str(f.type),
            "default": _default(f),
            "domain": domains[f.name].describe() if f.name in domains else None,
            "description": comments.get(f.name) or None,
        }
        for f in dataclasses.fields(exp.Config)
    ]
    return {
        "name": exp.name,
        "title": exp.title,
        "reference": exp.reference,
        "description": " ".join(str(getattr(exp, "description", "")).split()),
        "summary": _first_paragraph(getattr(exp, "description", "")),
        "config": fields,
        "presets": {name: dict(values) for name, values in exp.presets.items()},
    }


def cache_dir() -> Path:
    """The folder of wgflow's caches: ``$WGFLOW_CACHE_DIR``, ``$XDG_CACHE_HOME/wgflow`` or ``~/.cache/wgflow``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wgflow"


def _source_key(name: str) -> str | None:
    """A digest of what the description of ``name`` is computed from; None if its module is not known statically."""
    module = static_module(name)
    files = module_sources(module) if module else None
    if files is None:
        return None
    h = hashlib.sha256(f"{__version__}\0{name}\0{module}".encode())
    for root, dirs, names in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [Path(root) / n for n in sorted(names) if n.endswith((".py", ".toml"))]
    for f in files:
        try:
            st = f.stat()
        except OSError:
            return None
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _compute(name: str) -> dict[str, Any]:
    exp = get_experiment(name)
    d = experiment_dict(exp)
    d["preset_configs"] = {p: config_to_dict(make_config(name, p)) for p in exp.presets}
    # as JSON gives it back, so that a description read from the cache prints exactly as a computed one
    return json.loads(json.dumps(d, default=str))


def described(name: str) -> dict[str, Any]:
    """The description of experiment ``name`` (``wgflow show NAME --json`` without ``latest_run``, plus
    ``preset_configs``: each preset's full config), from the cache when its sources are unchanged."""
    if name in _MEMO:
        return _MEMO[name]
    key = _source_key(name)
    path = cache_dir() / "experiments" / f"{name}-{key}.json" if key else None
    d = None
    if path is not None and path.is_file():
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            d = None
    if d is None:
        d = _compute(name)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(d), encoding="utf-8")
                tmp.replace(path)
                for old in path.parent.glob(f"{name}-*.json"):  # descriptions of sources since edited
                    if old != path:
                        old.unlink(missing_ok=True)
            except OSError:
                pass
    _MEMO[name] = d
    return d


def run_overrides(run: dict[str, Any]) -> dict[str, Any] | None:
    """The config keys of ``run`` that differ from its preset (None: the experiment or preset is not loadable)."""
    try:
        base = described(run["experiment"])["preset_configs"].get(run.get("preset") or "quick")
    except Exception:  # an experiment no longer registered: say so, do not fail the listing
        return None
    if base is None:  # a preset the experiment no longer has
        return None
    return {k: v for k, v in (run.get("config") or {}).items() if base.get(k, object()) != v}
