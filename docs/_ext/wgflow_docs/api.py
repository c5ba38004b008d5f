"""The API pages: one per public package, its docstring, a table of its public names and the ``automodule``
of each of its modules, every object documented once, in the module defining it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from .text import heading, write

#: the public packages and modules of the API reference, in the order of the README's layout table
API_PACKAGES = [
    "wgflow",
    "wgflow.measures",
    "wgflow.objectives",
    "wgflow.tasks",
    "wgflow.flows",
    "wgflow.transport",
    "wgflow.limits",
    "wgflow.residual",
    "wgflow.stats",
    "wgflow.domains",
    "wgflow.control",
    "wgflow.errors",
    "wgflow.plotting",
    "wgflow.store",
    "wgflow.harness",
    "wgflow.interop",
    "wgflow.report",
    "wgflow.parallel",
    "wgflow.cli",
]


def _is_public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _submodules(package: str) -> list[str]:
    """The public modules of ``package`` (itself when it is a plain module), subpackages not included."""
    mod = importlib.import_module(package)
    if not hasattr(mod, "__path__"):
        return [package]
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(mod.__path__)
        if not info.ispkg and _is_public_module(info.name) and info.name != "__main__"
    )


def _canonical(package: str, name: str) -> str | None:
    """Where ``package.name`` is documented: ``module.qualname`` of the object, or None (a module, data)."""
    obj = getattr(importlib.import_module(package), name)
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if inspect.ismodule(obj) or module is None or qualname is None or not module.startswith("wgflow."):
        return None
    return f"{module}.{qualname}"


def _own_members(module: str) -> list[str] | None:
    """The names ``module`` documents: those of its ``__all__`` defined in it (None: autodoc's default)."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        return None
    own = []
    for name in names:
        obj = getattr(mod, name)
        defined_in = getattr(obj, "__module__", None)
        if inspect.ismodule(obj):
            continue
        if defined_in is None or isinstance(obj, (str, int, float, tuple, dict, list, frozenset)):
            own.append(name)  # data: documented where its __all__ lists it
        elif defined_in == module:
            own.append(name)
    return own


def _automodule(module: str) -> list[str]:
    members = _own_members(module)
    return [
        f".. automodule:: {module}",
        "   :members:" + (f" {', '.join(members)}" if members else ""),
        "   :show-inheritance:",
        "",
    ]


def _private_exports(targets: list[str], documented: set[str]) -> list[str]:
    """Directives for the exported objects defined in private modules (``wgflow._io``), each once in the site."""
    lines = []
    for target in targets:
        module, _, name = target.rpartition(".")
        if _is_public_module(module) or target in documented:
            continue
        documented.add(target)
        obj = getattr(importlib.import_module(module), name)
        kind = "autoclass" if inspect.isclass(obj) else "autofunction" if callable(obj) else "autodata"
        lines += [f".. {kind}:: {target}", *(["   :members:"] if kind == "autoclass" else []), ""]
    return lines


def api_page(package: str, documented: set[str] | None = None) -> str:
    """The reST of ``package``'s API page; ``documented`` collects the private objects already documented."""
    mod = importlib.import_module(package)
    lines = [heading(f"``{package}``")]
    if not hasattr(mod, "__path__"):  # a plain module: its docstring, then its members
        return "\n".join(lines + _automodule(package))
    lines += [f".. automodule:: {package}", "   :no-members:", ""]
    public = [n for n in getattr(mod, "__all__", []) if n != "__version__"]
    targets = [t for t in (_canonical(package, n) for n in public) if t is not None]
    if targets:
        lines += [
            heading("Public names", "-"),
            ".. currentmodule:: None",
            "",
            ".. autosummary::",
            "",
            *(f"   ~{t}" for t in targets),
            "",
        ]
    for module in _submodules(package) if package != "wgflow" else []:
        if _own_members(module) != []:
            lines += [heading(f"``{module}``", "-"), *_automodule(module)]
    private = _private_exports(targets, set() if documented is None else documented)
    if private:
        lines += [heading("Shared helpers", "-"), "Defined in a private module and exported here.", "", *private]
    return "\n".join(lines)


def api_pages(outdir: Path) -> None:
    """Write ``outdir/index.rst`` and one page per package of :data:`API_PACKAGES`."""
    documented: set[str] = set()
    for package in API_PACKAGES:
        write(outdir / f"{package}.rst", api_page(package, documented))
    index = [
        heading("API reference"),
        "One page per package, one package per concept (the README's layout). ``wgflow.experiments`` is",
        "described by the :doc:`experiment pages <../experiments/index>`.",
        "",
        ".. autosummary::",
        "",
        *(f"   {package}" for package in API_PACKAGES),
        "",
        ".. toctree::",
        "   :hidden:",
        "",
        *(f"   {package}" for package in API_PACKAGES),
        "",
    ]
    write(outdir / "index.rst", "\n".join(index))
