"""The figures of resnet-geodesic and resnet-deep-limit are fit for a paper (scaled-down runs).

Every saved figure is checked with :func:`wgflow.plotting.figures.figure_problems` (colliding tick labels,
unlabelled axes, no title) as saved, after :func:`wgflow.plotting.figures.finish`, and has a caption.
"""

import pytest

from tests.conftest import run_recording_figure_problems  # registered by pytest (import-mode importlib)
from tests.experiments.test_resnet_geodesic import SMALL
from wgflow.harness import get_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Smaller than the experiment tests' runs: only the drawing is tested here.
GEODESIC = {
    **SMALL,
    "m": 64,
    "m_test": 64,
    "seeds": 2,
    "steps": 3,
    "lrs": (0.02,),
    "score_steps": (0, 3),
    "snapshots": (0, 3),
}
DEEP = {"m": 24, "restarts": 1, "steps": 2, "seeds": 2, "ode_nodes": 4, "ablation_variant": "WA"}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["digits", "blobs"])
def test_resnet_geodesic_figures(monkeypatch, tmp_path, task):
    found, _ = run_recording_figure_problems(monkeypatch, "resnet-geodesic", {**GEODESIC, "task": task}, tmp_path)
    assert set(found) >= {
        f"{f}.png"
        for f in ("scores_vs_gamma", "source_scores_vs_gamma", "scores_vs_step", "scores_vs_transport", "tracks")
    }
    assert {k: v for k, v in found.items() if v} == {}
    assert {f.removesuffix(".png") for f in found} <= set(get_experiment("resnet-geodesic").captions)


@pytest.mark.slow
def test_resnet_deep_limit_figures_and_per_layer_quotient(monkeypatch, tmp_path):
    found, r = run_recording_figure_problems(monkeypatch, "resnet-deep-limit", DEEP, tmp_path)
    assert set(found) == {"paths.png", "gaps.png", "tracks.png", "ablation.png"}
    assert {k: v for k, v in found.items() if v} == {}
    assert {f.removesuffix(".png") for f in found} <= set(get_experiment("resnet-deep-limit").captions)
    # The WA ablation is judged modulo per-layer relabellings (the quotient itself is checked in tests/residual).
    claim = next(c for c in r.claims if c.name == "ablation_no_fd")
    assert "modulo per-layer relabellings" in claim.statement
    assert 0 < r.metrics["rel_gapP_nofd"] < float("inf") and r.metrics["h1_growth_nofd"] > 0
