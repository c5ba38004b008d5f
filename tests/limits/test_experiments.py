"""Scaled-down runs of the three limit experiments; every claim must hold."""

import pytest

from wgflow.experiments import run_experiment

SMALL = {
    "mf-langevin": {"n": 500, "steps": 400, "anneal_steps": 500, "anneal_decay": 0.985, "n_reference": 2000,
                    "grid": 151},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_scaled_down_run_passes_its_claims(name, tmp_path):
    res = run_experiment(name, "quick", SMALL[name], seed=0, out_dir=tmp_path)
    failed = [c for c in res.claims if not c.passed]
    assert not failed, [(c.name, c.measured, c.expected) for c in failed]
    assert res.claims and all(p for p in res.artifacts.values())
