"""Scaled-down runs of the three limit experiments; every claim must hold."""

import pytest

from wgflow.experiments import run_experiment

SMALL = {
    "mmn-gaussians": {"n_values": (32, 64, 128, 256), "seeds": 3, "T": 0.5, "hist_times": (0.25, 0.5),
                      "cells": 400},
    "consistency": {"n_values": (16, 32, 64), "seeds": 3, "T": 2.0, "n_times": 4},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_scaled_down_run_passes_its_claims(name, tmp_path):
    res = run_experiment(name, "quick", SMALL[name], seed=0, out_dir=tmp_path)
    failed = [c for c in res.claims if not c.passed]
    assert not failed, [(c.name, c.measured, c.expected) for c in failed]
    assert res.claims and all(p for p in res.artifacts.values())
