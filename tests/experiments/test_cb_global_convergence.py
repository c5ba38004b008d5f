"""cb-global-convergence: large and slightly-above-m0 widths converge; the one-sign init is a control."""

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import run_experiment
from wgflow.experiments.cb_global_convergence.experiment import _smallest_converging

# seeds 0-2: seed 1 and 2 stall at m = m0 = 3 (measured before issue 14), every seed converges at m = 48
SMALL = {"widths": (3, 12, 48), "seeds": 3, "control_seeds": 1, "steps": 1500, "n_snapshots": 12}


def test_smallest_converging_width_and_its_bootstrap_interval():
    conv = np.array([[0, 1, 0, 1], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)  # (widths, seeds)
    m, (lo, hi) = _smallest_converging([3, 6, 12], conv, 0.9)
    assert m == 12 and lo <= 12 <= hi and hi == 12  # 12 converges in every resample
    m, (lo, hi) = _smallest_converging([3, 6, 12], conv, 0.7)
    assert m == 6 and lo == 3 and hi == 12  # resamples without seed 3 make 3 converge
    m, ci = _smallest_converging([3, 6], np.zeros((2, 4), dtype=bool), 0.9)
    assert m == np.inf and ci == (np.inf, np.inf)


@pytest.mark.slow
def test_scaled_down_run_passes_its_claims(tmp_path, paper_figures):
    res = run_experiment("cb-global-convergence", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("cb-global-convergence")  # every figure it saved is fit for a paper
    failed = [(c.name, c.measured, c.expected) for c in res.claims if not c.passed]
    assert res.claims and not failed, failed
    claims = {c.name: c for c in res.claims}
    assert claims["large_width_converges"].control > 1e-2  # the one-sign control stalls
    assert res.metrics["violating_stalled_fraction"] == 1.0
    gifs = [p for p in res.artifacts.values() if p.endswith(".gif")]
    assert gifs and all(Image.open(p).n_frames > 2 for p in gifs)


def test_negative_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes(
        "cb-global-convergence",
        {"widths": (3, 12), "seeds": 2, "control_seeds": 1, "steps": 20, "n_snapshots": 4},
        tmp_path=tmp_path,
    )
    assert {c.name: c for c in res.claims}["few_particles_suffice"].measured == np.inf
