"""consistency: the coupled distance to the mean-field limit shrinks like n^{-1/2}, and only with training."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import ConfigError, make_config, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"n_values": (8, 16, 32, 64), "seeds": 5, "subsets": 2, "T": 1.0, "n_times": 2, "ref_factor": 4}


@pytest.mark.slow
def test_quick_preset_passes_its_claims(tmp_path, paper_figures):
    # the quick preset itself (~45 s on one core): smaller references, horizons or replicate counts
    # leave the CI off -1/2 (e.g. T = 2, n_ref = 8 max(n), 2 subsets: -0.36 [-0.47, -0.23])
    res = run_experiment("consistency", "quick", {}, seed=0, out_dir=tmp_path)
    paper_figures.check("consistency")  # every figure it saved is fit for a paper
    failed = [(c.name, c.measured, c.ci) for c in res.claims if not c.passed]
    assert not failed, failed
    for c in res.claims:  # judged on a CI, with its source and the uncoupled control beside it
        assert c.ci is not None and c.ci[0] < c.ci[1] and c.source and "uncoupled" in c.control
    # the control's exponent is the sampling error of the initial draw in p = d + 1 = 6 dimensions,
    # well above the coupled -1/2: the claim measures the flow, not the draw
    assert res.metrics["uncoupled_slope"] > res.metrics["slope"] + 0.1
    assert (tmp_path / res.artifacts["scaling"].split("/")[-1]).exists()


def test_untrained_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes("consistency", SMALL, tmp_path=tmp_path)
    # without training the coupled distance is 0 at every time: no fit, nan, and a note says why
    assert np.isnan(res.metrics["slope"]) and all("0" in c.note for c in res.claims)


def test_config_is_validated():
    assert make_config("consistency", "quick").seeds >= 5 and len(make_config("consistency", "quick").n_values) >= 4
    with pytest.raises(ConfigError, match="seeds"):
        make_config("consistency", "quick", {"seeds": 1})
    with pytest.raises(ConfigError, match="subsets"):
        make_config("consistency", "quick", {"subsets": 17})
