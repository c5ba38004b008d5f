"""Imports point down: a static walk (``ast``) over every module of ``src/wgflow``, imports inside
functions included, ``if TYPE_CHECKING:`` blocks excluded.

* :data:`ALLOWED` is the architecture: the packages each package may import. Packages of one layer
  (the science below the product) are independent unless listed.
* No import cycle between modules, counting imports inside functions.
* An import of a wgflow module inside a function is for the CLI's start-up speed only: it lives in
  :mod:`wgflow.cli` (or is listed in :data:`LAZY_OK` with its reason) and says why in a comment.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wgflow

SRC = Path(wgflow.__file__).parent
NEUTRAL = {
    "wgflow",
    "wgflow._version",
    "wgflow.errors",
    "wgflow._io",
    "wgflow.control",
    "wgflow.stats",
    "wgflow.domains",
}
SCIENCE = {"measures", "objectives", "tasks", "flows", "transport", "limits", "residual"}
_ALLOWED = {
    # the science, bottom to top
    "measures": set(),
    "transport": set(),
    "objectives": {"measures"},
    "tasks": {"measures", "objectives"},
    "flows": {"measures", "objectives"},
    "limits": {"measures", "objectives", "tasks", "transport", "flows"},
    "residual": {"transport"},
    # the product's lower floor: figures and the store know no science
    "plotting": set(),
    "store": set(),
    "report": {"store", "plotting"},
    "interop": {"measures", "objectives", "flows", "transport", "plotting", "store"},
    # the experiment harness, the experiments, and what runs them
    "harness": {*SCIENCE, "plotting", "store"},
    "experiments": {*SCIENCE, "plotting", "store", "harness"},
    "parallel": {*SCIENCE, "plotting", "store", "harness", "report"},
    "cli": {*SCIENCE, "plotting", "store", "harness", "experiments", "report", "parallel", "interop"},
    "__main__": {"cli"},
}
ALLOWED = {f"wgflow.{k}": {f"wgflow.{v}" for v in vs} for k, vs in _ALLOWED.items()}
#: function-level imports outside wgflow.cli that are allowed, with their reason
LAZY_OK: dict[tuple[str, str], str] = {}


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, src: Path = SRC) -> list[tuple[str, bool, int]]:
    """(imported wgflow module, inside a function?, line) of every import in ``path``."""
    name = _module_name(path, src)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(c) for stmt in node.body for c in ast.walk(stmt)}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function |= {id(c) for c in ast.walk(node) if c is not node}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports the submodule pkg.mod
            found = [f"{module}.{a.name}" for a in node.names if _is_module(f"{module}.{a.name}", src)]
            targets = found + ([module] if len(found) < len(node.names) else [])
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        out += [(t, id(node) in in_function, node.lineno) for t in targets if t.split(".")[0] == "wgflow"]
    return out


def _is_module(dotted: str, src: Path = SRC) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (src / rel).with_suffix(".py").exists() or (src / rel / "__init__.py").exists()


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _graph() -> dict[str, list[tuple[str, bool, int]]]:
    return {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_the_walk_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "wgflow" / "a"
    pkg.mkdir(parents=True)
    code = "from . import n\nif TYPE_CHECKING:\n    from ..b import x\ndef f():\n    from ..c import y\n"
    (pkg / "m.py").write_text(code)
    (pkg / "n.py").write_text("")
    found = [(t, f) for t, f, _ in _imports(pkg / "m.py", tmp_path / "wgflow")]
    assert sorted(found) == [("wgflow.a.n", False), ("wgflow.c", True)]


def test_every_package_is_placed_in_the_architecture():
    packages = {_package(m) for m in _graph()} - NEUTRAL
    assert packages <= set(ALLOWED), f"packages without a layer in ALLOWED: {packages - set(ALLOWED)}"


def test_imports_point_down():
    bad = []
    for module, imports in _graph().items():
        src = _package(module)
        for target, _, line in imports:
            dst = _package(target)
            if src in NEUTRAL or module in NEUTRAL:
                ok = dst in NEUTRAL or target in NEUTRAL or (module == "wgflow" and True)
            else:
                ok = dst == src or dst in NEUTRAL or target in NEUTRAL or dst in ALLOWED.get(src, set())
            if not ok:
                bad.append(f"{module}:{line} imports {target}")
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in imps if t != m} for m, imps in _graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_imports_inside_functions_only_keep_the_cli_fast():
    src_lines = {}
    bad = []
    for module, imports in _graph().items():
        for target, inside, line in imports:
            if not inside:
                continue
            if _package(module) != "wgflow.cli" and (module, target) not in LAZY_OK:
                bad.append(f"{module}:{line} imports {target} inside a function")
                continue
            path = SRC.parent / (module.replace(".", "/") + ".py")
            if not path.exists():
                path = SRC.parent / module.replace(".", "/") / "__init__.py"
            lines = src_lines.setdefault(path, path.read_text().splitlines())
            first = line - 1  # the import block this import belongs to: its comment may sit on any of its lines
            while first > 0 and lines[first - 1].strip().startswith(("from ", "import ", "#")):
                first -= 1
            last = line - 1
            while last + 1 < len(lines) and lines[last + 1].strip().startswith(("from ", "import ")):
                last += 1
            if not any("#" in ln for ln in lines[first : last + 1]):
                bad.append(f"{module}:{line} imports {target} inside a function without saying why")
    assert not bad, "imports inside functions:\n" + "\n".join(bad)
