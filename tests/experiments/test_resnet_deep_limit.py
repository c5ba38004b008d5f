"""resnet-deep-limit: the negative control passes no claim; rates with CIs over seeds on moons."""

import numpy as np
import pytest

from wgflow.experiments import run_experiment
from wgflow.experiments.base import ConfigError
from tests.conftest import assert_no_claim_passes  # registered by pytest (import-mode importlib)
from wgflow.experiments.resnet_deep_limit import _rate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_rate_of_first_order_gaps():
    # Gaps c L^-1 with seed-to-seed noise: the fitted exponent's CI over seeds contains -1 and excludes 0.
    rng = np.random.default_rng(0)
    Ls = np.array([4, 8, 16])
    gaps = 0.3 / Ls * np.exp(0.1 * rng.normal(size=(5, 3)))
    fit = _rate(Ls, gaps)
    assert fit.lo < -1 < fit.hi < 0
    assert _rate(Ls, np.array([[1.0, 0.0, 0.5]])) is None  # a zero gap (identical energies): no fit, no pass


@pytest.mark.slow
def test_untrained_passes_no_claim(tmp_path):
    r = assert_no_claim_passes("resnet-deep-limit", {"seeds": 2, "restarts": 1, "steps": 1}, tmp_path=tmp_path)
    assert {c.name for c in r.claims} == {"cauchy_objective", "paths_converge", "ode_limit", "ablation_no_fd"}
    assert all("did not lower E" in c.note for c in r.claims)


def test_config_checks():
    with pytest.raises(ConfigError, match="4 doubling"):
        run_experiment("resnet-deep-limit", "quick", {"Ls": (4, 8, 16)})
    with pytest.raises(ConfigError, match="fractions"):
        run_experiment("resnet-deep-limit", "quick", {"path_gap_floor": 0.0})
