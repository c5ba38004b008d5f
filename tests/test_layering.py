"""Each layer imports only the layers below it, measured in a fresh interpreter.

Layers, bottom to top: the neutral helpers (``errors``, ``control``, ``stats``, ``_io``),
the core (units, measures, objectives, flows, trajectories, transport, residual flows,
limits, tasks), the store, the experiments, then the report, the parallel runner and the CLI.

``sys.modules`` after ``import wgflow.X`` tells what a module pulls in. The package
``__init__`` re-exports the core, so most cases stub the package object (its ``__path__``
only) to measure the module's own imports; one case imports the real package.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wgflow

SRC = str(Path(wgflow.__file__).parent)

_PROBE = """
import importlib, json, sys, types
if {stub}:
    pkg = types.ModuleType("wgflow"); pkg.__path__ = [{src!r}]
    sys.modules["wgflow"] = pkg
importlib.import_module({module!r})
print(json.dumps(sorted(sys.modules)))
"""

UPPER = ["wgflow.store", "wgflow.experiments", "wgflow.report", "wgflow.parallel", "wgflow.cli", "sqlite3"]
CORE = [
    "wgflow.units",
    "wgflow.measure",
    "wgflow.flows",
    "wgflow.objectives",
    "wgflow.trajectory",
    "wgflow.transport",
    "wgflow.residual",
    "wgflow.limits",
    "wgflow.tasks",
]

# module -> names it must not load (a name also forbids its submodules). Each case starts an
# interpreter that imports torch (~2 s): one module per layer, not every module.
CASES = {
    "wgflow._io": ["torch", "wgflow.units", *UPPER],
    "wgflow.stats": ["torch", *CORE, *UPPER],
    "wgflow.units": ["wgflow.linearized", "wgflow.measure", *UPPER, "matplotlib"],
    "wgflow.linearized": [*UPPER, "matplotlib"],
    "wgflow.trajectory": [*UPPER, "matplotlib"],
    "wgflow.flows": [*UPPER, "matplotlib"],
    "wgflow.transport": ["wgflow.units", "wgflow.flows", "wgflow.residual", "wgflow.limits", *UPPER, "matplotlib"],
    "wgflow.residual": ["wgflow.flows", "wgflow.limits", "wgflow.tasks", *UPPER, "matplotlib"],
    "wgflow.limits": [*UPPER, "matplotlib"],
    "wgflow.store": [
        "torch",
        "matplotlib",
        *CORE,
        "wgflow.experiments",
        "wgflow.report",
        "wgflow.parallel",
        "wgflow.cli",
    ],
    "wgflow.report": ["torch", *CORE, "wgflow.experiments", "wgflow.parallel", "wgflow.cli"],
    "wgflow.experiments": ["wgflow.report", "wgflow.parallel", "wgflow.cli"],
}


@functools.cache
def _loaded(module: str, stub: bool) -> tuple[str, ...]:
    code = _PROBE.format(stub=stub, src=SRC, module=module)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(SRC).parent), "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def _above(loaded: tuple[str, ...], forbidden: list[str]) -> list[str]:
    return [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)]


@pytest.mark.parametrize("module", sorted(CASES))
def test_a_layer_does_not_load_the_layers_above_it(module):
    loaded = _loaded(module, stub=True)
    assert module in loaded  # the probe measured the module itself
    bad = _above(loaded, CASES[module])
    assert not bad, f"import {module} loads {bad}"


def test_import_wgflow_does_not_load_the_store_or_experiments():
    # the package loads its names lazily (PEP 562): importing it loads no layer, not even torch
    loaded = _loaded("wgflow", stub=False)
    bad = _above(loaded, ["torch", *CORE, *UPPER, "matplotlib"])
    assert not bad, f"import wgflow loads {bad}"
    # using the public API loads the core, and still nothing above it
    code = "import json, sys, wgflow; wgflow.train, wgflow.ParticleMeasure; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    used = json.loads(out.stdout)
    assert "wgflow.units" in used and "wgflow.flows" in used
    bad = _above(used, [*UPPER, "matplotlib"])
    assert not bad, f"wgflow.train loads {bad}"


def test_the_probe_sees_a_forbidden_import():
    # the measure can fail: the experiments do load the store and torch
    assert _above(_loaded("wgflow.experiments", stub=True), ["wgflow.store", "torch"])
