"""rve-3spin: scaled-down runs at the paper's d = 10, its negative control, presets and config errors."""

import itertools

import numpy as np
import pytest

from wgflow.experiments import ConfigError, get_experiment, make_config, run_experiment
from wgflow.experiments.rve_3spin.claims import NULL_FIXED_STEP, NULL_INIT, alpha_batch, paper_loss
from wgflow.experiments.rve_3spin.train import step_plan

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPIN = {
    "n_values": (16, 32, 64, 128),
    "targets": 3,
    "sgd_steps": 600,
    "quench_steps": 200,
    "n_test": 4000,
    "rbf_n_values": (8, 16, 32, 64),
    "rbf_steps": 1500,
}
TINY = {
    "n_values": (10, 20, 40, 80),
    "targets": 3,
    "sgd_steps": 60,
    "quench_steps": 20,
    "n_test": 1000,
    "rbf_n_values": (8, 16),
    "rbf_steps": 100,
    "rbf_n_train": 100,
}


@pytest.mark.slow
def test_rve_3spin_scaled_down_at_d10(tmp_path, paper_figures):
    res = run_experiment("rve-3spin", "quick", SPIN, seed=0, out_dir=tmp_path)
    paper_figures.check("rve-3spin")  # every figure it saved is fit for a paper
    claims = {c.name: c for c in res.claims}
    m = res.metrics
    assert set(claims) == {
        "sigmoid-d10_loss_exponent",
        "sigmoid-d10_sgd_exponent",
        "sigmoid-d10_quench_lowers_loss",
        "sigmoid-d10_loss_vs_paper",
        "sigmoid-d10_rate_collapse",
        "sigmoid-d10_sgd_exponent_alpha25",
        "rbf-d5_loss_exponent",
        "rbf-d5_loss_exponent_posthoc",
    }
    # the exponents are cluster fits over the targets (shared across widths); their null is the initial network,
    # whose loss hardly depends on n: every rule fails on it
    for name in (
        "sigmoid-d10_loss_exponent",
        "sigmoid-d10_sgd_exponent",
        "sigmoid-d10_sgd_exponent_alpha25",
        "rbf-d5_loss_exponent",
    ):
        c = claims[name]
        assert c.method == "cluster-slope" and c.null.description == NULL_INIT and c.null.passed is False, name
        assert abs(c.null.measured) < 0.2, (name, c.null.measured)
    assert claims["sigmoid-d10_loss_exponent"].null.measured == pytest.approx(m["sigmoid-d10_init_slope"])
    assert claims["sigmoid-d10_loss_exponent"].measured == pytest.approx(m["sigmoid-d10_slope"])
    # the quench against its control; its null, the control against a second control, fails at the worst n
    quench = claims["sigmoid-d10_quench_lowers_loss"]
    # at 200 quench steps from n = 16 the interval still reaches 0 (the claim fails here); its estimate is a gain
    assert quench.measured > 0 and quench.null.passed is False and quench.method == "t-mean", (quench.ci, quench.null)
    assert quench.control > m["sigmoid-d10_loss_n16"]
    assert quench.null.ci[0] <= 0 and m["sigmoid-d10_control_gain_min"] == pytest.approx(np.exp(quench.null.measured))
    # 600 steps at d = 10 are far from the paper's levels, and so is the initial network
    paper = claims["sigmoid-d10_loss_vs_paper"]
    assert not paper.passed and paper.measured > 3 and paper.source and paper.null.measured > paper.measured
    # the batch law at alpha = 1/4: its own SGD run, judged against -2 alpha
    law = claims["sigmoid-d10_sgd_exponent_alpha25"]
    assert law.expected == "CI within -0.5 ± 0.2" and law.measured == m["sigmoid-d10_pre_alpha25_slope"]
    assert abs(m["sigmoid-d10_alpha25_realised"] - 0.25) < 0.05
    # the post-hoc RBF rule is shown on n <= 32, never counted
    posthoc = claims["rbf-d5_loss_exponent_posthoc"]
    assert posthoc.verdict == "posthoc" and not posthoc.evidence and posthoc.measured == m["rbf-d5_posthoc_slope"]
    # the signed error |<(f - f_n) f>| is a metric: it falls with n as the loss does
    assert m["sigmoid-d10_signed_f_slope"] < 0
    losses = [m[f"sigmoid-d10_loss_n{n}"] for n in SPIN["n_values"]]
    assert all(a > b for a, b in itertools.pairwise(losses))  # wider is better
    for key in ("loss_vs_n", "loss_vs_time", "slice"):
        assert (tmp_path / res.artifacts[key].split("/")[-1]).exists()
    again = run_experiment("rve-3spin", "quick", SPIN, seed=0, out_dir=tmp_path)  # memoised stage by stage
    np.testing.assert_equal(again.metrics, res.metrics)  # nan (the collapse at eta = 1 and n = 16) equals nan


def test_rve_3spin_untrained_passes_no_claim(tmp_path):
    from tests.conftest import assert_no_claim_passes

    res = assert_no_claim_passes("rve-3spin", TINY, tmp_path=tmp_path)
    assert res.metrics["sigmoid-d10_quench_gain_min"] == 1.0  # quench and controls took no step
    assert res.metrics["sigmoid-d10_control_gain_min"] == 1.0


def test_the_posthoc_rbf_rule_is_shown_only_where_it_has_two_widths(tmp_path):
    """rbf_n_values with a single width at or below rbf_posthoc_max_n: the registered rule alone, no crash."""
    small = {**TINY, "n_values": (10, 20), "sgd_steps": 10, "quench_steps": 5, "batch_alphas": ()}
    res = run_experiment("rve-3spin", "quick", {**small, "rbf_n_values": (16, 64)}, seed=0, out_dir=tmp_path)
    names = {c.name for c in res.claims}
    assert "rbf-d5_loss_exponent" in names and "rbf-d5_loss_exponent_posthoc" not in names
    res = run_experiment("rve-3spin", "quick", {**small, "rbf_n_values": (8, 16, 64)}, seed=0, out_dir=tmp_path / "b")
    assert "rbf-d5_loss_exponent_posthoc" in {c.name for c in res.claims}


def test_paper_preset_and_read_offs():
    """paper: the source's protocols, sigmoid d = 10 and 25 to n = 1024, and the RBF protocol."""
    paper = make_config("rve-3spin", "paper")
    assert paper.dims == (10, 25) and paper.n_values == (32, 64, 128, 256, 512, 1024) and paper.targets == 10
    assert (paper.sgd_steps, paper.quench_steps, paper.n_test) == (2_000_000, 200_000, 100_000)
    assert paper.rbf and paper.rbf_n_values == (16, 32, 64, 128, 256) and paper.rbf_eta == 1e-3
    assert (paper.rbf_steps, paper.rbf_noise_until, paper.rbf_eta_inner) == (200_000, 100_000, 1.0)
    assert make_config("rve-3spin", "quick").dims == (10,)
    assert np.allclose(paper_loss(10, [32, 1024]), [0.2, 0.005]) and np.allclose(paper_loss(25, [32, 1024]), [13, 0.14])


def test_bad_configs_are_rejected():
    with pytest.raises(ConfigError, match="targets"):
        make_config("rve-3spin", "quick", {"targets": 1})
    with pytest.raises(ConfigError, match="batch_div"):
        make_config("rve-3spin", "quick", {"n_values": (2, 4)})
    with pytest.raises(ConfigError, match="dtype"):
        make_config("rve-3spin", "quick", {"dtype": "float16"})


def test_full_preset_is_the_paper_up_to_n_256_at_4_percent_of_its_steps():
    """full: what fits 2 h on 2 cores (step_plan is what the estimate times): the paper's widths to 256, both
    dimensions, 10 targets, 4% of its steps; the RBF protocol at its mean-field horizon with a 20x step."""
    full, paper = make_config("rve-3spin", "full"), make_config("rve-3spin", "paper")
    assert full.dims == (10, 25) and full.n_values == (32, 64, 128, 256) and full.targets == 10
    assert (full.sgd_steps, full.quench_steps) == (paper.sgd_steps // 25, paper.quench_steps // 25)
    assert full.rbf_n_values == paper.rbf_n_values and full.rbf_noise == paper.rbf_noise
    assert full.rbf_eta * full.rbf_steps == pytest.approx(paper.rbf_eta * paper.rbf_steps)  # t = 200
    assert full.rbf_eta * full.rbf_noise_until == pytest.approx(paper.rbf_eta * paper.rbf_noise_until)  # t = 100
    assert get_experiment("rve-3spin").presets["quick"] == {}
    plan = step_plan(full)
    # per (d, n): SGD, quench, two controls, the fixed-step control, one batch-law run; then the RBF widths
    assert len(plan) == 2 * 4 * 5 + 5 and sum(f.steps for f in plan if f.unit == "rbf") == 5 * 10_000
    assert {(f.batch, f.steps) for f in plan if f.unit == "sigmoid" and f.n == 256 and f.d == 25} == {
        (51, 80_000),
        (2601, 8_000),
        (51, 16_000),
        (51, 20),
        (17, 80_000),
    }


COLLAPSE = {
    "n_values": (32, 64, 128, 256),
    "targets": 8,
    "eta": 0.2,
    "sgd_steps": 50,
    "quench_steps": 2,
    "n_test": 2000,
    "batch_alphas": (),
    "rbf": False,
}


def test_descent_rate_collapses_in_mean_field_time_and_not_in_fixed_steps(tmp_path):
    """RVE's "rate independent of n" at the paper's step: the early rate r_n (t = 10, 50 steps of eta = 0.2)
    hardly depends on n; the fixed-step control, whose mean-field time runs n0/n as fast, falls like 1/n.
    Its rule fails on the control."""
    res = run_experiment("rve-3spin", "quick", COLLAPSE, seed=0, out_dir=tmp_path)
    c = {c.name: c for c in res.claims}["sigmoid-d10_rate_collapse"]
    m = res.metrics
    assert c.measured == pytest.approx(m["sigmoid-d10_collapse_slope"]) and c.expected == "CI within 0 ± 0.2"
    # the finite-n tilt (n = 32 descends a little slower) puts the point estimate near 0.1: the equivalence
    # rule needs the source's 10 targets, so only the estimate is checked here
    assert abs(c.measured) < 0.2 and c.ci[0] < c.measured < c.ci[1], (c.measured, c.ci)
    assert c.null.description == NULL_FIXED_STEP and c.null.passed is False
    assert -1.2 < c.null.measured < -0.7 and c.null.measured == pytest.approx(m["sigmoid-d10_fixed_step_slope"])
    rates = [m[f"sigmoid-d10_collapse_rate_n{n}"] for n in COLLAPSE["n_values"]]
    # n = 32 a little slower, the widest two alike (the mean-field limit); the control's rates differ 8-fold
    assert min(rates) > 0 and max(rates) / min(rates) < 1.5 and abs(rates[-1] / rates[-2] - 1) < 0.1, rates


def test_batch_law_batches_follow_n_to_the_2_alpha():
    paper = make_config("rve-3spin", "paper")
    assert paper.batch_alphas == (0.25,)
    assert [alpha_batch(paper, n, 0.25) for n in paper.n_values] == [6, 8, 12, 17, 24, 34]
    assert [alpha_batch(paper, n, 0.5) for n in paper.n_values] == [6, 12, 24, 48, 96, 192]
    with pytest.raises(ConfigError, match="batch_alphas"):
        make_config("rve-3spin", "quick", {"batch_alphas": (0.0,)})


@pytest.mark.parametrize("unit", ["sigmoid", "rbf"])
def test_float32_tracks_float64_on_a_short_run(unit):
    """The full and paper presets run in float32: from the same particles, on the same sample and minibatches
    (drawn in float64, then cast), 300 SGD or 1000 RBF steps of the presets' flows end within 0.5% of float64 (measured: 6e-4 for SGD), far
    below the target-to-target spread the claims resolve (~10%). (Fresh samples and the thermal noise are drawn
    per dtype, a different stream, so they are left out of this comparison.)"""
    import torch

    import wgflow as wg
    from wgflow.measures.units import RBFSphere, Sigmoid
    from wgflow.tasks.three_spin import ThreeSpin

    full = make_config("rve-3spin", "full")
    assert full.dtype == full.rbf_dtype == "float32"
    if unit == "sigmoid":
        u, n, d = Sigmoid(10), 64, 10
        flow = wg.FlowConfig(eta=full.eta, steps=300, batch_size=64 // full.batch_div, risk_every=300)
    else:
        u, n, d = RBFSphere(full.rbf_d), 32, full.rbf_d
        flow = wg.FlowConfig(eta=full.rbf_eta, eta_inner=full.rbf_eta_inner, steps=1000, risk_every=1000)
    f = ThreeSpin.random(d, seed=1)
    x = f.sampler()(500, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    theta = u.init(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    risk = {}
    for dt in (torch.float32, torch.float64):
        tr = wg.train(wg.ParticleMeasure(theta.to(dt), u), wg.DatasetRisk(x.to(dt), f(x).to(dt)), flow, seed=0)
        risk[dt] = tr.risk
    assert risk[torch.float64][-1] < 0.97 * risk[torch.float64][0]  # it trained
    gap = abs(risk[torch.float32][-1] - risk[torch.float64][-1]) / risk[torch.float64][-1]
    assert gap < 5e-3, gap


def test_layered_dynamics_is_a_named_variant_beside_plain_sgd():
    """dynamics = "layered" (per-layer steps) is opt-in: every preset runs plain SGD; the variant slows the inner
    weights' step by layered_inner in every sigmoid flow and changes the trajectory from the same particles."""
    from types import SimpleNamespace

    from wgflow.experiments.rve_3spin.train import inner_step, sigmoid_stage

    for preset in ("quick", "full", "paper"):
        assert make_config("rve-3spin", preset).dynamics == "sgd" and inner_step(make_config("rve-3spin", preset)) == 1
    small = {**TINY, "n_values": (10, 20), "sgd_steps": 20, "quench_steps": 5, "rbf": False}
    ctx = SimpleNamespace(progress=None, checkpointer=lambda key: None, save_trajectory=lambda name, traj: None)
    out = {}
    for dyn in ("sgd", "layered"):
        cfg = make_config("rve-3spin", "quick", {**small, "dynamics": dyn})
        out[dyn] = sigmoid_stage(cfg, 10, 20, [0, 1], ctx)
    assert inner_step(cfg) == cfg.layered_inner == 0.02
    np.testing.assert_array_equal(out["sgd"]["init"], out["layered"]["init"])  # the same particles
    for key in ("pre", "post", "fixed_step", "pre_alpha25"):  # every flow of the stage follows the variant
        assert np.isfinite(out["layered"][key]).all() and (out["sgd"][key] != out["layered"][key]).all(), key
    with pytest.raises(ConfigError, match="dynamics"):
        make_config("rve-3spin", "quick", {"dynamics": "adam"})
