"""wgflow draws and saves figures without touching matplotlib's global backend or rcParams (a notebook's inline or
widget backend and a user's style survive), and saves any figure: pyplot's on a file backend, ``Figure()`` with no
pyplot at all, and its own."""

import json
import subprocess
import sys
import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import wgflow.plotting as plotting
from wgflow.plotting.style import RC

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import matplotlib
    matplotlib.use("svg")  # a user's backend: neither Agg nor wgflow's choice
    matplotlib.rcParams["font.size"] = 13.0
    matplotlib.rcParams["lines.linewidth"] = 2.5
    before = {k: repr(v) for k, v in matplotlib.rcParams.items()}

    import torch
    import wgflow as wg

    tmp = Path(sys.argv[1])
    g = torch.Generator().manual_seed(0)
    teacher = wg.tasks.ReLUTeacher.random(d=3, m0=2, generator=g)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(16, generator=g, dtype=torch.float64, kind="sphere"), unit)
    traj = wg.train(mu, wg.PopulationRisk(teacher), wg.FlowConfig(eta=0.5, steps=40, n_snapshots=4))
    basis = wg.plotting.plane_basis(teacher.measure.numpy()[:, 1:])
    fig = wg.plotting.particle_figure(traj.snapshots, basis, teacher.measure.numpy(), title="particles")
    wg.plotting.save(fig, tmp / "particles.svg")
    wg.plotting.save(fig, tmp / "particles.png")

    import matplotlib.pyplot as plt
    pfig, pax = plt.subplots()  # the user's own pyplot figure, on the svg canvas
    pax.plot([1, 2], [3, 4])
    wg.plotting.save(pfig, tmp / "pyplot.png")

    res = wg.experiments.run_experiment(
        "teacher-student", "quick", {"n": 16, "steps": 50, "seeds": 2, "n_snapshots": 4, "check_T": 1.0},
        out_dir=tmp / "run",
    )
    after = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    ax = fig.axes[0]
    print(json.dumps({
        "backend": matplotlib.get_backend(),
        "changed": sorted(k for k in before if before[k] != after[k]),
        "tick_size": ax.xaxis.get_ticklabels()[0].get_fontsize(),
        "top_spine": ax.spines["top"].get_visible(),
        "figures": sorted(p.name for p in (tmp / "run").glob("*.png")),
        "claims": len(res.claims),
    }))
    """
)


@pytest.mark.slow
def test_drawing_and_running_an_experiment_leave_backend_and_rcparams_alone(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["backend"] == "svg"
    assert got["changed"] == []
    # the figure carries wgflow's style although the global rcParams never held it
    assert got["tick_size"] == RC["xtick.labelsize"]  # not the user's font.size 13
    assert got["top_spine"] is False
    assert got["figures"] and got["claims"] > 0
    for name in ("particles.svg", "particles.png", "pyplot.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert "<text" in (tmp_path / "particles.svg").read_text()  # svg.fonttype "none": text stays text


def test_a_figure_without_pyplot_saves(tmp_path):
    """A plugin experiment drawing with the object-oriented API: ``Figure()`` has a bare FigureCanvasBase (no
    renderer), which ``save`` replaces by an Agg canvas before measuring tick labels."""
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(np.geomspace(1, 50, 20), np.arange(20))
    ax.set(xscale="log", xlabel="x", ylabel="y", title="oo")
    plotting.save(fig, tmp_path / "oo.png")
    assert (tmp_path / "oo.png").stat().st_size > 1000
    assert plotting.figure_problems(fig) == []


def test_wgflow_figures_carry_the_style_without_rcparams():
    saved = dict(matplotlib.rcParams)
    fig, ax = plotting.subplots(1, 2, figsize=(4, 2))
    ax[0].set_title("a")
    leg = ax[1].legend(handles=ax[1].plot([0, 1], label="line"))
    twin = ax[0].twinx()
    assert ax[0].title.get_fontsize() == RC["axes.titlesize"]
    assert leg.get_texts()[0].get_fontsize() == RC["legend.fontsize"]
    assert not ax[1].spines["top"].get_visible() and not twin.spines["top"].get_visible()
    fig.canvas.draw()
    assert dict(matplotlib.rcParams) == saved
    assert all(plt.figure(n) is not fig for n in plt.get_fignums())  # not pyplot's: a notebook shows it only when asked
