"""rve-fluctuations: the spread of f_n across seeds at an early flow time and at the converged time,
each judged by the same rule on the t = 0 draw."""

import numpy as np
import pytest

from tests.conftest import assert_no_claim_passes
from wgflow.experiments import ConfigError, get_experiment, make_config, run_experiment

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"n_values": (16, 32, 64, 128), "seeds": 5, "steps": 2000, "n_times": 16, "n_probe": 1000}
NULL = "the same fit at t = 0 on the i.i.d. initial draw"


@pytest.mark.slow
def test_scaled_down_run_judges_its_claims_against_the_t0_draw(tmp_path, paper_figures):
    res = run_experiment("rve-fluctuations", "quick", SMALL, seed=0, out_dir=tmp_path)
    paper_figures.check("rve-fluctuations")  # every figure it saved is fit for a paper
    claims = {c.name: c for c in res.claims}
    m = res.metrics
    assert set(claims) == {"early_exponent", "late_exponent", "late_below_clt"}
    for c in claims.values():  # Welch fits over seeds; the null is the t = 0 fit, judged by the claim's rule
        assert c.method == "welch-slope" and c.source and c.null.description == NULL
        assert c.null.measured == pytest.approx(m["t0_slope"]) and c.null.ci == pytest.approx((m["t0_lo"], m["t0_hi"]))
    # the t = 0 spread is the CLT of the draw: its exponent is -1/2 up to noise, so the late rules fail on it
    assert m["t0_lo"] < -0.5 < m["t0_hi"]
    assert claims["late_exponent"].null.passed is False and claims["late_below_clt"].null.passed is False
    early = claims["early_exponent"]
    assert early.null.passed == (m["t0_lo"] >= -0.7 and m["t0_hi"] <= -0.3)
    assert early.measured == pytest.approx(m["early_slope"]) and (early.note is not None) == early.null.passed
    # the early time is a flow time at which the loss has halved, not the initial draw
    assert m["early_time"] > 0 and m["early_risk_ratio"] <= 0.5
    # 2000 steps do not converge (the risk still falls fast): no converged time, the late claims fail and say why
    assert np.isnan(m["late_time"]) and m["final_decay_rate"] > 0.05
    for name in ("late_exponent", "late_below_clt"):
        assert not claims[name].passed and "had not converged" in claims[name].note
    # the spread at the final time already falls faster than the draw's, though the flow has not converged
    assert m["final_hi"] < m["t0_lo"] and "final time" in claims["late_exponent"].control
    assert (tmp_path / res.artifacts["fluctuations"].split("/")[-1]).exists()


def test_untrained_control_passes_no_claim(tmp_path):
    res = assert_no_claim_passes("rve-fluctuations", {**SMALL, "steps": 200, "n_times": 4}, tmp_path=tmp_path)
    m = res.metrics
    # no step: the loss never drops (no early, no converged time), and the final spread is the CLT of the draw
    assert np.isnan(m["early_time"]) and np.isnan(m["late_time"]) and m["final_risk_ratio"] == pytest.approx(1.0)
    assert m["final_slope"] == m["t0_slope"] and m["final_lo"] < -0.5 < m["final_hi"]


def test_config_is_validated():
    cfg = make_config("rve-fluctuations", "quick")
    assert cfg.seeds >= 8 and len(cfg.n_values) >= 4 and cfg.early_fraction == 0.5 and cfg.converged_rate == 0.05
    for bad, key in (
        ({"early_fraction": 1.0}, "early_fraction"),
        ({"seeds": 2}, "seeds"),
        ({"n_values": (16,)}, "n_values"),
        ({"n_times": 1}, "n_times"),
        ({"early_delta": 0.0}, "early_delta"),
        ({"converged_rate": 0.0}, "converged_rate"),
    ):
        with pytest.raises(ConfigError, match=key):
            make_config("rve-fluctuations", "quick", bad)


def test_presets_validate():
    make_config("rve-fluctuations", "full")
    assert get_experiment("rve-fluctuations").presets["quick"] == {}
