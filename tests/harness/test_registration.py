"""Pre-registration: a run marks each claim ``registered`` against the experiment's ``registration.toml``,
evidence needs a registered pass whose null fails, and code that differs from its file is caught."""

from __future__ import annotations

import dataclasses

import pytest

from wgflow.errors import ConfigError
from wgflow.harness import (
    Null,
    claim_ci_below,
    claim_ci_within,
    claim_true,
    contract,
    get_experiment,
    list_experiments,
    run_experiment,
)
from wgflow.harness.plugins import load_file
from wgflow.harness.registration import designs, load, problems

MODULE = """
from dataclasses import dataclass
from wgflow.harness import Experiment, ExperimentResult, Null, claim_ci_within, claim_le, register
from wgflow.stats import mean_ci


@dataclass(frozen=True)
class Cfg:
    seeds: int = 10  # realisations
    delta: float = 0.5  # equivalence margin
    shift: float = 1.0  # where the measured mean sits


@register
class Reg(Experiment):
    name = "{name}"
    title = reference = description = "pre-registration test"
    Config = Cfg
    presets = {{"quick": {{}}, "full": {{"seeds": 20}}}}

    def run(self, cfg, ctx):
        import numpy as np

        rng = np.random.default_rng(ctx.seed)
        m = mean_ci(cfg.shift + 0.05 * rng.standard_normal(cfg.seeds))
        n = mean_ci(0.05 * rng.standard_normal(cfg.seeds))
        return ExperimentResult(
            [
                claim_ci_within("level", "the level is one", m.mean, m.ci, 1.0, cfg.delta,
                                null=Null("the t = 0 sample", n.mean, n.ci), method="t-mean"),
                claim_le("small", "it is small", m.mean, {bound}, null=Null("the t = 0 sample", n.mean),
                         method="exact"),
                claim_le("small_posthoc", "it is small, looser", m.mean, 5.0, null=Null("the t = 0 sample", 9.0),
                         method="exact"),
            ]
        )
"""

REGISTRATION = """
experiment = "{name}"

[presets.quick]
seeds = 10

[presets.full]
seeds = 20

[claims.level]
date = "2026-12-07"
rule = "CI within 1 ± 0.5"
method = "t-mean"
null = "the t = 0 sample"
keys = {{ delta = 0.5 }}
design = {{ n = "seeds" }}
reason = "the theory's level is 1; 0.5 is half of it"

[claims.small]
date = "2026-12-07"
rule = "<= 0.5"
method = "exact"
null = "the t = 0 sample"
reason = "a bound that must fail"

[claims.small_posthoc]
date = "2026-12-07"
replaces = "small"
rule = "<= 5"
method = "exact"
null = "the t = 0 sample"
reason = "chosen after small failed"
"""


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    """A researcher's own experiment file with its registration beside it; ``make(bound=...)`` writes one."""
    monkeypatch.setattr(contract, "_REGISTRY", dict(contract._REGISTRY))
    made = []

    def make(bound: float = 0.5, registration: str | None = REGISTRATION):
        name = f"reg-test-{len(made)}"
        folder = tmp_path / name
        folder.mkdir()
        (folder / "exp.py").write_text(MODULE.format(name=name, bound=bound))
        if registration is not None:
            (folder / "registration.toml").write_text(registration.format(name=name))
        load_file(folder / "exp.py")
        made.append(name)
        return get_experiment(name)

    return make


def test_registered_claims_count_as_evidence_and_posthoc_never(experiment, tmp_path):
    exp = experiment()
    res = run_experiment(exp.name, "quick", out_dir=tmp_path / "run")
    c = {x.name: x for x in res.claims}
    assert all(x.registered is not None for x in res.claims)
    assert c["level"].registered and c["level"].passed and c["level"].null.passed is False
    assert c["level"].verdict == "evidence" and c["level"].evidence
    assert c["small"].registered and not c["small"].passed and c["small"].verdict == "fail"
    # a post-hoc rule passes, its null fails, yet it is never evidence
    assert c["small_posthoc"].passed and c["small_posthoc"].null.passed is False
    assert c["small_posthoc"].verdict == "posthoc" and not c["small_posthoc"].evidence
    assert "post hoc" in c["small_posthoc"].registration and res.n_evidence == 1
    d = c["level"].to_dict()
    assert d["evidence"] and d["registered"] and d["null"]["passed"] is False and d["verdict"] == "evidence"
    assert problems(exp) == []


def test_a_pass_whose_null_passes_too_is_not_evidence():
    """The same statistic by the same rule on the null: when it passes too, the claim is a pass, not evidence."""
    null = Null("the t = 0 sample", 0.98, (0.9, 1.05))
    c = claim_ci_within("level", "the level is one", 1.0, (0.95, 1.05), 1.0, 0.1, null=null, method="t-mean")
    c = dataclasses.replace(c, registered=True)
    assert c.passed and c.null.passed and c.verdict == "pass" and not c.evidence
    c = claim_ci_within("level", "s", 1.0, (0.95, 1.05), 1.0, 0.1, null=Null("t = 0", 0.5, (0.4, 0.6)))
    assert c.null.passed is False and dataclasses.replace(c, registered=True).evidence
    assert not c.evidence  # never compared with a registration
    with pytest.raises(ValueError, match="claim_true needs the null's verdict"):
        claim_true("x", "s", 1.0, True, null=Null("t = 0", 0.5))


def test_a_threshold_changed_in_code_alone_is_not_registered(experiment, tmp_path):
    exp = experiment(bound=2.0)  # the file still registers <= 0.5
    res = run_experiment(exp.name, "quick", out_dir=tmp_path / "run")
    small = next(x for x in res.claims if x.name == "small")
    assert small.passed and not small.registered and small.verdict == "pass"
    assert small.registration == "not registered: rule '<= 2' differs from the registered '<= 0.5'"


def test_a_config_key_changed_at_run_time_or_in_a_preset_is_not_registered(experiment, tmp_path):
    exp = experiment()
    res = run_experiment(exp.name, "quick", {"delta": 2.0}, out_dir=tmp_path / "a")
    level = next(x for x in res.claims if x.name == "level")
    assert not level.registered and "rule 'CI within 1 ± 2' differs" in level.registration
    res = run_experiment(exp.name, "quick", {"seeds": 5}, out_dir=tmp_path / "b")
    level = next(x for x in res.claims if x.name == "level")
    assert level.registration == "not registered: design seeds = 5 differs from the registered 10"
    exp.presets = {"quick": {}, "full": {"seeds": 30}}
    assert problems(exp) == [f"{exp.name}: preset full: seeds = 30 in code, 20 registered"]


def test_without_a_file_nothing_is_registered(experiment, tmp_path):
    exp = experiment(registration=None)
    res = run_experiment(exp.name, "quick", out_dir=tmp_path / "run")
    assert {x.registration for x in res.claims} == {"no pre-registration file"} and res.n_evidence == 0
    assert problems(exp) == [f"{exp.name}: no registration.toml beside {tmp_path / exp.name / 'exp.py'}"]


def test_a_malformed_file_is_one_line(experiment):
    exp = experiment(registration='experiment = "{name}"\n[claims.x]\nrule = "<= 1"\n')
    with pytest.raises(ConfigError, match=r"claim 'x' has missing field\(s\) \['date', 'method', 'null', 'reason'\]"):
        load(exp)


def test_designs_read_the_registered_sizes(experiment):
    exp = experiment()
    found = {(d.preset, d.claim): (d.method, d.sizes) for d in designs([exp])}
    assert found == {("quick", "level"): ("t-mean", {"n": 10}), ("full", "level"): ("t-mean", {"n": 20})}


@pytest.mark.parametrize("exp", [e.name for e in list_experiments() if not e.name.startswith(("fake", "reg-test"))])
def test_every_built_in_experiment_agrees_with_its_registration(exp):
    """Code and file agree: registered presets, design sizes and config keys (the claims' rules, nulls
    and methods are compared by the experiments' tests, on their runs)."""
    assert problems(get_experiment(exp)) == []


def test_the_agreement_check_can_fail(experiment, tmp_path):
    exp = experiment()
    path = tmp_path / exp.name / "registration.toml"
    path.write_text(path.read_text().replace("delta = 0.5", "delta = 0.25"))
    assert problems(exp) == [
        f"{exp.name}: claim level: delta = 0.5 at preset full, 0.25 registered",
        f"{exp.name}: claim level: delta = 0.5 at preset quick, 0.25 registered",
    ]


def test_strict_exits_3_when_a_registered_claim_fails(experiment, tmp_path, capsys):
    from wgflow.cli import main

    exp = experiment()  # its registered claim `small` fails
    assert main(["run", exp.name, "--store", str(tmp_path / "s")]) == 0
    assert main(["run", exp.name, "--store", str(tmp_path / "s"), "--strict"]) == 3
    assert "--strict: a registered claim of run" in capsys.readouterr().err
    passing = experiment(bound=2.0)  # `small` now passes, but unregistered: nothing registered fails
    assert main(["run", passing.name, "--store", str(tmp_path / "s"), "--strict"]) == 0
    assert main(["reproduce", exp.name, "--store", str(tmp_path / "s"), "--strict"]) == 3
    assert "--strict: 1 registered claim(s) failed" in capsys.readouterr().err


def test_an_interval_within_rounding_is_degenerate_and_fails():
    """Identical realisations (nothing moved) give an interval of rounding width: no rule passes on it."""
    c = claim_ci_below("r", "s", 1.0, (1.0 - 1e-16, 1.0 + 2e-16), 1.0 + 1e-15)
    assert not c.passed
    assert claim_ci_below("r", "s", 1.0, (1.0 - 1e-6, 1.0 + 2e-6), 1.0 + 1e-5).passed
    null = Null("t = 0", 0.5, (0.5, 0.5 + 1e-17))
    assert claim_ci_within("r", "s", 1.0, (0.95, 1.05), 1.0, 0.1, null=null).null.passed is False
