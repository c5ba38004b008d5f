"""Figures bound to claims state the claim and its verdict in their titles (wgflow.plotting.verdicts)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from wgflow.harness import Experiment, ExperimentResult, claim_ge, contract, register, run_experiment
from wgflow.plotting.figures import figure_problems
from wgflow.plotting.verdicts import Caption, bind_claims, caption_text, figure_claims, state_verdicts, verdict_problems


@dataclass(frozen=True)
class _Claim:
    name: str
    passed: bool


def _fig(panels: int = 1, suptitle: str | None = None, title: str = "risk falls 4.9 orders"):
    fig, axes = plt.subplots(1, panels, figsize=(3 * panels, 2.5), squeeze=False, layout="constrained")
    for ax in axes[0]:
        ax.plot([1, 2], [1, 2])
        ax.set(xlabel="t", ylabel="R", title=title if panels == 1 else "panel")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def test_verdict_goes_into_the_suptitle_and_replaces_an_earlier_one():
    fig = _fig(2, suptitle="risk falls 4.9 orders")
    bind_claims(fig, ["risk_drop"])
    assert verdict_problems(fig) == ["title states no verdict for claim risk_drop"]
    state_verdicts(fig, [_Claim("risk_drop", False)])
    state_verdicts(fig, [_Claim("risk_drop", True), _Claim("other", False)])
    assert fig._suptitle.get_text() == "risk falls 4.9 orders (claim risk_drop: PASS)"
    assert verdict_problems(fig) == [] and figure_problems(fig) == []
    plt.close(fig)


def test_single_axes_title_takes_the_verdicts_and_long_titles_wrap():
    fig = _fig(1, title="the student's measure reaches the teacher's within half its start")
    bind_claims(fig, ["teacher_measure_close", "risk_drop"])
    state_verdicts(fig, [_Claim("teacher_measure_close", False), _Claim("risk_drop", True)])
    title = fig.axes[0].get_title()
    assert title.endswith("\n(claims teacher_measure_close: FAIL, risk_drop: PASS)")
    assert title.startswith("the student's measure") and verdict_problems(fig) == []
    plt.close(fig)


def test_unjudged_claims_are_flagged():
    """A claim name the run never judged (a typo in ``captions``) stays 'not judged' and is a problem."""
    fig = _fig(2)
    bind_claims(fig, ["risk_dorp"])
    state_verdicts(fig, [_Claim("risk_drop", True)])
    assert fig._suptitle.get_text() == "(claim risk_dorp: not judged)"
    assert figure_problems(fig) == ["title states no verdict for claim risk_dorp"]
    plt.close(fig)


def test_unbound_figures_and_plain_captions_need_no_verdict():
    fig = _fig(1)
    state_verdicts(fig, [_Claim("risk_drop", True)])
    assert fig.axes[0].get_title() == "risk falls 4.9 orders" and verdict_problems(fig) == []
    assert figure_claims({"a": "plain", "b": Caption("shown", ("x",)), "c": Caption("none")}) == {"b": ("x",)}
    assert caption_text(Caption("shown", ("x",))) == "shown" and caption_text("plain") == "plain"
    plt.close(fig)


@dataclass(frozen=True)
class _Cfg:
    gain: float = 2.0  # how far the fake risk falls (orders of magnitude)


class _Bound(Experiment):
    name = "fake-bound-figure"
    title = "A figure bound to a claim"
    reference = "none"
    description = "fake"
    Config = _Cfg
    captions = {"bound_curve": Caption("The fake risk falls.", claims=("risk_drop",))}

    def run(self, cfg, ctx):
        fig, ax = plt.subplots(figsize=(3, 2.5))
        ax.plot([0, 1], [1, 10**-cfg.gain])
        ax.set(xlabel="t", ylabel="R", title=f"risk falls {cfg.gain:g} orders")
        path = ctx.save_figure("bound_curve", fig)  # saved before the claim is judged
        claim = claim_ge("risk_drop", "the risk falls by an order", cfg.gain, 1.0)
        return ExperimentResult([claim], {}, {"curve": path})


@pytest.fixture
def bound_experiment():
    register(_Bound)
    yield _Bound
    contract._REGISTRY.pop(_Bound.name, None)


@pytest.mark.parametrize("gain,verdict", [(2.0, "PASS"), (0.5, "FAIL")])
def test_run_experiment_states_verdicts_after_judging(bound_experiment, tmp_path, monkeypatch, gain, verdict):
    import wgflow.plotting.figures as plotting

    titles: list[tuple[str, list[str]]] = []
    save = plotting.save

    def recording_save(fig, path, dpi=None):
        save(fig, path, dpi)
        titles.append((fig.axes[0].get_title(), figure_problems(fig)))

    monkeypatch.setattr(plotting, "save", recording_save)
    run_experiment("fake-bound-figure", "quick", {"gain": gain}, out_dir=tmp_path)
    assert titles[0] == (f"risk falls {gain:g} orders", ["title states no verdict for claim risk_drop"])
    assert titles[-1] == (f"risk falls {gain:g} orders (claim risk_drop: {verdict})", [])
    assert (tmp_path / "bound_curve.png").exists() and not list(tmp_path.glob("*.tmp*"))
    assert len(titles) == 2  # saved once on the way, once judged


def test_a_context_nobody_judges_saves_once_and_closes(tmp_path):
    """Outside ``run_and_judge`` (a sweep point, a direct ``exp().run``) bound figures are not kept open."""
    from wgflow.experiments import DirectoryContext

    ctx = DirectoryContext(tmp_path)
    fig = _fig(1)
    bind_claims(fig, ["risk_drop"])
    ctx.save_figure("curve", fig)
    assert (tmp_path / "curve.png").exists() and not plt.fignum_exists(fig.number) and not ctx._bound


def test_the_report_captions_a_bound_figure_with_its_statement():
    from wgflow.harness.runner import about
    from wgflow.report.figures import caption

    captions = about(_Bound)["captions"]  # what the runner records in the store
    assert caption({"name": "bound_curve"}, captions) == "The fake risk falls."
    assert caption({"name": "other_curve"}, captions) == "Other curve"  # no caption: the humanised name
