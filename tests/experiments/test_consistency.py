"""consistency: the coupled distance to the mean-field limit shrinks like n^{-1/2}, and only with training."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import ConfigError, make_config, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"n_values": (8, 16, 32, 64), "seeds": 5, "subsets": 2, "T": 1.0, "n_times": 2, "ref_factor": 4}
NULL = "the same fit on the t = 0 i.i.d. sample: W2(mu_n(0), mu_ref(0)), the initial draw against the reference's"


@pytest.mark.slow
def test_quick_preset_judges_its_claims_against_the_t0_sample(tmp_path, paper_figures):
    res = run_experiment("consistency", "quick", {}, seed=0, out_dir=tmp_path)
    paper_figures.check("consistency")  # every figure it saved is fit for a paper
    c = {x.name: x for x in res.claims}
    m = res.metrics
    for x in c.values():  # cluster fits over seeds, with their source, null and the uncoupled control beside them
        assert x.method == "cluster-slope" and x.registered and x.source and "uncoupled" in x.control
        assert x.null.description == NULL and x.null.measured == pytest.approx(m["t0_slope"])
        assert x.measured == pytest.approx(m["slope"]) and x.ci == pytest.approx((m["slope_lo"], m["slope_hi"]))
    # the null is the sampling rate of the initial draw in p = d + 1 = 6 dimensions (~ -1/p), far from -1/2:
    # the equivalence rule fails on it, while the weaker 'decreases with n' passes on it too
    assert -0.3 < m["t0_slope"] < -0.1 and c["chaos_exponent"].null.passed is False
    assert c["exponent_ci_excludes_zero"].null.passed and c["exponent_ci_excludes_zero"].verdict != "evidence"
    assert c["chaos_exponent"].passed == (m["slope_lo"] >= -0.65 and m["slope_hi"] <= -0.35)
    assert m["slope_hi"] < m["t0_lo"]  # the coupled exponent is steeper than the draw's
    assert (tmp_path / res.artifacts["scaling"].split("/")[-1]).exists()


def test_untrained_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes("consistency", SMALL, tmp_path=tmp_path)
    # without training the coupled distance is 0 at every time: no fit, nan, and a note says why
    assert np.isnan(res.metrics["slope"]) and all("0" in c.note for c in res.claims)
    assert all(c.null.description == NULL and np.isfinite(c.null.measured) for c in res.claims)


def test_config_is_validated():
    assert make_config("consistency", "quick").seeds >= 5 and len(make_config("consistency", "quick").n_values) >= 4
    with pytest.raises(ConfigError, match="seeds"):
        make_config("consistency", "quick", {"seeds": 1})
    with pytest.raises(ConfigError, match="subsets"):
        make_config("consistency", "quick", {"subsets": 17})
    with pytest.raises(ConfigError, match="delta"):
        make_config("consistency", "quick", {"delta": 0.0})
