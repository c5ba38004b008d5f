"""The notebooks under docs/notebooks run top to bottom in a fresh Jupyter kernel and show what they promise."""

import os
from pathlib import Path

import pytest

import wgflow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "notebooks"


def _execute(path: Path, cwd: Path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel imports the wgflow under test (a source tree on PYTHONPATH or the installed package)
    src = str(Path(wgflow.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own default: the inline backend
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


@pytest.mark.slow
def test_first_flow_runs_and_shows_its_figure(tmp_path, monkeypatch):
    nb = _execute(NOTEBOOKS / "first_flow.ipynb", tmp_path, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = [set(o.get("data", {})) for o in outputs]
    assert any("image/png" in k for k in kinds), "the particle figure is not shown inline"
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any(h.startswith("<b>ParticleMeasure</b>") for h in html)
    assert any(h.startswith("<b>Trajectory</b>") for h in html)
    assert any("xarray.Dataset" in h for h in html)
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "W2(mu_T, mu_0) =" in printed
