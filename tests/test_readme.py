"""The README's Python examples run as written."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), ns)
    assert (tmp_path / "teacher.npz").exists() and (tmp_path / "particles.png").exists()
    assert ns["traj"].risk[-1] < 1e-3 * ns["traj"].risk[0]
