"""The README's worked example (your own nn.Module, Adam, data; watched, plotted, reported) runs and does what it says."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[2] / "README.md"


def test_worked_example_runs(tmp_path, monkeypatch, one_torch_thread):
    section = README.read_text().split("## Your own network, data and experiments", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile("import wgflow as wg\n" + block, str(README), "exec"), ns)
    assert (tmp_path / "my_particles.png").exists() and (tmp_path / "my_flow.png").exists()
    assert (tmp_path / "my-runs" / "report.html").exists()
    assert 'id="exp-my-net"' in (tmp_path / "my-runs" / "report.html").read_text()
    flow = ns["flow"]
    assert flow.snapshot_steps[-1] == 160 and flow.risk[-1] < flow.risk[0]
    assert float((ns["mu"].network(ns["x"]) - ns["model"](ns["x"]).detach().squeeze(1)).abs().max()) < 1e-5
