"""mf-langevin: free-energy descent, proximal Gibbs fixed point, annealing, each against its control."""

import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import run_experiment

SMALL = {"n": 500, "steps": 400, "anneal_steps": 500, "anneal_decay": 0.985, "n_reference": 2000, "grid": 151}


@pytest.mark.slow
def test_scaled_down_run_passes_its_claims(tmp_path, paper_figures):
    res = run_experiment("mf-langevin", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("mf-langevin")  # every figure it saved is fit for a paper
    failed = [(c.name, c.measured, c.ci, c.expected) for c in res.claims if not c.passed]
    assert res.claims and not failed, failed
    claims = {c.name: c for c in res.claims}
    assert claims["gibbs_fixed_point"].control > 2 * SMALL.get("w2_factor", 1.3)  # the initial law is no fixed point
    assert claims["annealing_reaches_minimum"].control > 10 * claims["annealing_reaches_minimum"].measured
    assert all(p for p in res.artifacts.values())


def test_negative_control_passes_no_claim(tmp_path):
    assert_no_claim_passes(
        "mf-langevin",
        {"n": 60, "steps": 4, "anneal_steps": 4, "n_snapshots": 3, "n_reference": 300, "grid": 41, "null_draws": 4},
        tmp_path=tmp_path,
    )
