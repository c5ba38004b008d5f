"""The RVE experiments' presets (scaled-down runs: tests/experiments/test_rve_3spin.py, test_rve_fluctuations.py)."""

from wgflow.experiments import get_experiment, make_config


def test_presets_validate_and_full_follows_the_paper():
    full = make_config("rve-3spin", "full")
    assert full.dims == (10, 25) and full.n_values == (32, 64, 128, 256, 512, 1024) and full.targets == 10
    assert (full.sgd_steps, full.quench_steps) == (2_000_000, 200_000)
    assert full.rbf_d == 5 and full.rbf_steps == 200_000
    make_config("rve-fluctuations", "full")
    for name in ("rve-3spin", "rve-fluctuations"):
        assert get_experiment(name).presets["quick"] == {}
