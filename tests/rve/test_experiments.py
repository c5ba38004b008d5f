"""Scaled-down runs of the RVE experiments: every claim must pass, figures are written.

The sizes are the smallest at which the claims still hold honestly (measured); the quick
presets are larger (see the experiments' docstrings and the report of issue 5).
"""

import pytest

from wgflow.experiments import get_experiment, make_config, run_experiment

FLUCT = {"n_values": (16, 64), "seeds": 6, "steps": 2000}


def _check(result, out_dir, names):
    failed = [(c.name, c.measured, c.expected) for c in result.claims if not c.passed]
    assert not failed, failed
    for key in names:
        assert key in result.artifacts and (out_dir / result.artifacts[key].split("/")[-1]).exists()


@pytest.mark.slow
def test_rve_fluctuations_scaled_down_claims_pass(tmp_path):
    res = run_experiment("rve-fluctuations", "quick", FLUCT, seed=0, out_dir=tmp_path)
    _check(res, tmp_path, ("fluctuations",))
    assert res.metrics["late_slope"] < res.metrics["early_slope"]


def test_presets_validate_and_full_follows_the_paper():
    full = make_config("rve-3spin", "full")
    assert full.dims == (10, 25) and full.n_values == (32, 64, 128, 256, 512, 1024) and full.targets == 10
    assert (full.sgd_steps, full.quench_steps) == (2_000_000, 200_000)
    assert full.rbf_d == 5 and full.rbf_steps == 200_000
    make_config("rve-fluctuations", "full")
    for name in ("rve-3spin", "rve-fluctuations"):
        assert get_experiment(name).presets["quick"] == {}
