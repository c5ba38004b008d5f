"""Figures fit for a paper: no colliding tick labels, every axis labelled, every figure titled.

:func:`wgflow.plotting.figures.finish` runs on every figure an experiment saves; these tests render figures
through it (log axes of any span, the particle pictures) and check them with matplotlib's text
bounding boxes (:func:`wgflow.plotting.figures.figure_problems`). The experiments' own figures are checked
during each experiment's scaled-down run (``paper_figures`` in tests/experiments/conftest.py).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from wgflow.plotting.figures import figure_problems, finish, particle_figure, plane_basis


def _curve(lo: float, hi: float, kind: str):
    fig, ax = plt.subplots(figsize=(3.2, 2.6))
    x = np.geomspace(lo, hi, 30)
    {"loglog": ax.loglog, "semilogy": ax.semilogy, "semilogx": ax.semilogx, "plot": ax.plot}[kind](x, x**-0.5)
    ax.set_xlabel("width $n$")
    ax.set_ylabel("$W_2$")
    ax.set_title("W2 falls like $n^{-1/2}$")
    return fig


@pytest.mark.parametrize("kind", ["loglog", "semilogy", "semilogx", "plot"])
@pytest.mark.parametrize("span", [(0.21, 0.58), (16, 128), (3e-5, 7e-5), (1, 40), (1e-6, 1e3), (0.9, 1.1)])
def test_finished_figures_have_no_colliding_ticks(kind, span):
    fig = _curve(*span, kind)
    finish(fig)
    assert figure_problems(fig) == []
    visible = [
        t
        for t in fig.axes[0].get_xticklabels() + fig.axes[0].get_xticklabels(minor=True)
        if t.get_visible()
        and t.get_text()
        and fig.axes[0].get_xlim()[0] <= t.get_position()[0] <= fig.axes[0].get_xlim()[1]
    ]
    assert len(visible) >= 2, "an axis needs at least two labelled ticks to be read"
    plt.close(fig)


def test_short_log_axes_get_plain_numbers():
    fig = _curve(0.21, 0.58, "loglog")
    finish(fig)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_visible() and t.get_text()]
    assert "0.4" in labels and not any("10^" in s for s in labels)
    plt.close(fig)


def test_problems_are_detected():
    fig, (a, b) = plt.subplots(1, 2, figsize=(2.0, 1.5))
    x = np.geomspace(0.21, 0.58, 10)
    a.loglog(x, x)  # matplotlib's default labels for < 1 decade collide at this width
    a.set_xticks(np.linspace(0.21, 0.58, 12))
    b.plot(x, x)
    b.set_ylabel("a long label that runs into the next panel " * 2)
    b.plot(x, 2 * x, label="twice")
    b.plot(x, 3 * x, label="thrice")  # two labelled series, legend() forgotten
    problems = figure_problems(fig)
    assert "axes 0: x tick labels overlap" in problems and "axes 0: no x label" in problems
    assert "figure has no title" in problems and "axes 1: 2 labelled series, not all in a legend" in problems
    plt.close(fig)


def test_particle_figure_is_labelled_and_titled():
    rng = np.random.default_rng(0)
    snaps = rng.normal(size=(5, 20, 4))
    fig = particle_figure(snaps, plane_basis(np.eye(3)[:2]), rng.normal(size=(2, 4)), title="units reach the teacher")
    finish(fig)
    assert figure_problems(fig) == []
    plt.close(fig)


def test_watched_run_figures_are_fit_for_a_paper(tmp_path, monkeypatch, one_torch_thread):
    """The figures ``wg.interop.watch(...).save(store)`` records go through the shared style and pass the checks."""
    import wgflow.interop.observe_store as recorder
    from tests.interop.test_observe import _train
    from wgflow.store import Store

    found: dict[str, list[str]] = {}
    save = recorder.save

    def recording_save(fig, path, dpi=None):
        save(fig, path, dpi)
        found[str(path).rsplit("/", 1)[-1]] = figure_problems(fig)

    monkeypatch.setattr(recorder, "save", recording_save)  # the name the recorder calls
    _, obs, _ = _train(steps=20, watch=dict(every=5))
    obs.save(Store(tmp_path / "runs"), name="my-net")
    assert found == {"my-net_particles.png": [], "my-net_flow.png": []}
