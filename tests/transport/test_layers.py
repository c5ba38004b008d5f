"""Imports inside wgflow.transport point one way, and the heavy optional libraries load only where a path needs them."""

import ast
import subprocess
import sys
from pathlib import Path

import wgflow.transport

PKG = Path(wgflow.transport.__file__).parent
HEAVY = ("ot", "sklearn")  # POT and scikit-learn: seconds to import


def _imports(path: Path, *, top_only: bool = False) -> list[tuple[str, int]]:
    """(module, level) of every import in ``path``; level > 0 for relative imports. Function bodies too unless top_only."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
        elif isinstance(node, ast.Import):
            out += [(alias.name, 0) for alias in node.names]
    return out


def _graph() -> dict[str, set[str]]:
    mods = {p.stem for p in PKG.glob("*.py")}
    return {
        p.stem: {m.split(".")[0] for m, lvl in _imports(p) if lvl == 1 and m.split(".")[0] in mods}
        for p in PKG.glob("*.py")
    }


def test_module_graph_is_acyclic_counting_imports_inside_functions():
    graph = _graph()
    assert graph["sinkhorn"] >= {"entropic", "sinkhorn_multiscale"} and "sinkhorn" not in graph["sinkhorn_multiscale"]
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for dep in sorted(graph[m]):
            assert state.get(dep) != 1, f"import cycle: {' -> '.join([*path, m, dep])}"
            if dep not in state:
                visit(dep, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_pot_and_scikit_learn_are_not_imported_at_module_level():
    for path in PKG.glob("*.py"):
        top = {m.split(".")[0] for m, lvl in _imports(path, top_only=True) if lvl == 0}
        assert not top & set(HEAVY), f"{path.name} imports {top & set(HEAVY)} at module level"


def test_a_small_uniform_problem_loads_neither_pot_nor_scikit_learn():
    code = (
        "import sys, numpy as np, wgflow as wg\n"
        "x = np.random.default_rng(0).normal(size=(100, 3))\n"
        "v, info = wg.wasserstein(x, x + 1.0, return_info=True)\n"
        "assert info.relation == 'exact' and abs(v - 3 ** 0.5) < 1e-12, v\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
