"""Scaled-down runs of the RVE experiments: every claim must pass, figures are written.

The sizes are the smallest at which the claims still hold honestly (measured); the quick
presets are larger (see the experiments' docstrings and the report of issue 5).
"""

import pytest

from wgflow.experiments import get_experiment, make_config, run_experiment

SPIN = {"n_values": (32, 64), "targets": 2, "sgd_steps": 1500, "quench_steps": 400, "n_test": 5000,
        "rbf_n_values": (8, 16, 32), "rbf_steps": 4000}


def _check(result, out_dir, names):
    failed = [(c.name, c.measured, c.expected) for c in result.claims if not c.passed]
    assert not failed, failed
    for key in names:
        assert key in result.artifacts and (out_dir / result.artifacts[key].split("/")[-1]).exists()


@pytest.mark.slow
def test_rve_3spin_scaled_down_claims_pass(tmp_path):
    res = run_experiment("rve-3spin", "quick", SPIN, seed=0, out_dir=tmp_path)
    assert {c.name for c in res.claims} >= {"sigmoid-d5_loss_exponent", "sigmoid-d5_signed_error_decreases",
                                            "sigmoid-d5_sgd_exponent", "sigmoid-d5_quench_lowers_loss",
                                            "rbf-d5_loss_exponent", "rbf-d5_signed_error_decreases"}
    _check(res, tmp_path, ("loss_vs_n", "loss_vs_time", "slice"))
    # the run is memoised stage by stage: a second call resumes without training
    again = run_experiment("rve-3spin", "quick", SPIN, seed=0, out_dir=tmp_path)
    assert again.metrics == res.metrics


def test_presets_validate_and_full_follows_the_paper():
    full = make_config("rve-3spin", "full")
    assert full.dims == (10, 25) and full.n_values == (32, 64, 128, 256, 512, 1024) and full.targets == 10
    assert (full.sgd_steps, full.quench_steps) == (2_000_000, 200_000)
    assert full.rbf_d == 5 and full.rbf_steps == 200_000
    make_config("rve-fluctuations", "full")
    for name in ("rve-3spin", "rve-fluctuations"):
        assert get_experiment(name).presets["quick"] == {}


def test_bad_configs_are_rejected():
    from wgflow.experiments import ConfigError

    with pytest.raises(ConfigError, match="targets"):
        make_config("rve-3spin", "quick", {"targets": 1})
    with pytest.raises(ConfigError, match="batch_div"):
        make_config("rve-3spin", "quick", {"n_values": (2, 4)})
    with pytest.raises(ConfigError, match="dtype"):
        make_config("rve-3spin", "quick", {"dtype": "float16"})
    with pytest.raises(ConfigError, match="seeds"):
        make_config("rve-fluctuations", "quick", {"seeds": 2})
