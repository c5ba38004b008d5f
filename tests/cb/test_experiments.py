"""Scaled-down runs of the three Chizat-Bach / Chizat-Oyallon-Bach experiments; their claims must hold."""

import pytest
from PIL import Image

from wgflow.experiments import run_experiment

SMALL = {
    # seeds 0-2: seed 1 and 2 stall at m = m0 = 3 (measured), every seed converges at m = 48
    "cb-global-convergence": {"widths": (3, 48), "seeds": 3, "steps": 1500, "n_snapshots": 12},
    "lazy-vs-active": {"d": 10, "n_train": 100, "n_test": 300, "m": 20, "T": 10.0,
                       "log10_tau": (-1.0, 0.0, 1.0, 2.0)},
}


def _failed(res):
    return [(c.name, c.measured, c.expected) for c in res.claims if not c.passed]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_scaled_down_run_passes_its_claims(name, tmp_path):
    res = run_experiment(name, "quick", SMALL[name], seed=0, out_dir=tmp_path)
    assert res.claims and not _failed(res), _failed(res)
    assert all(p for p in res.artifacts.values())
    gifs = [p for p in res.artifacts.values() if p.endswith(".gif")]
    for p in gifs:
        assert Image.open(p).n_frames > 2
