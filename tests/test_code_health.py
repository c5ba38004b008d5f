"""Size limits of the code under src/, measured with ``ast``: no function or method over 60 lines
(from ``def`` to its last line, docstring and nested functions included), no file over 400 lines.

Long code is split along its concepts rather than exempted; the ``PENDING`` allow-lists name code
being shrunk on open branches and must shrink to empty as they merge (a stale entry fails).
"""

import ast
from pathlib import Path

import pytest

import wgflow

SRC = Path(wgflow.__file__).parent
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400

# Being shrunk on open branches (issue #19): remove an entry when its branch merges. A stale entry
# (the code is short now, or gone) fails below, so the list cannot outlive its reason.
PENDING_FUNCTIONS: set[str] = set()  # empty: every function is within the limit
PENDING_FILES: set[str] = set()


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def function_lengths(path: Path) -> dict[str, int]:
    """``{name: lines}`` of every function and method in ``path`` (the longest of equal names)."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            out[node.name] = max(n, out.get(node.name, 0))
    return out


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_measure_counts_docstring_and_nested_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('def outer():\n    """doc\n\n    more"""\n    def inner():\n        return 1\n    return inner\n')
    assert function_lengths(f) == {"outer": 7, "inner": 2}


def test_no_long_functions():
    long = {
        f"{_rel(p)}:{name}": n for p in _sources() for name, n in function_lengths(p).items() if n > MAX_FUNCTION_LINES
    }
    new = {k: v for k, v in long.items() if k not in PENDING_FUNCTIONS}
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (split them along their concepts): {new}"


def test_no_long_files():
    long = {_rel(p): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    new = {k: v for k, v in long.items() if k not in PENDING_FILES}
    assert not new, f"files over {MAX_FILE_LINES} lines (split them along their concepts): {new}"


def test_pending_entries_are_still_long():
    """An allow-list entry whose code is now short (or gone) must be removed."""
    stale = []
    for entry in sorted(PENDING_FUNCTIONS):
        rel, name = entry.split(":")
        path = SRC / rel
        if not path.exists() or function_lengths(path).get(name, 0) <= MAX_FUNCTION_LINES:
            stale.append(entry)
    for entry in sorted(PENDING_FILES):
        path = SRC / entry
        if not path.exists() or len(path.read_text().splitlines()) <= MAX_FILE_LINES:
            stale.append(entry)
    assert not stale, f"short (or gone) now: remove from PENDING: {stale}"


def test_stale_entries_are_found(monkeypatch):
    monkeypatch.setattr(__import__("sys").modules[__name__], "PENDING_FILES", {"no/such/file.py"})
    with pytest.raises(AssertionError, match=r"no/such/file\.py"):
        test_pending_entries_are_still_long()
