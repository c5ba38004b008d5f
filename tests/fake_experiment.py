"""A tiny fake experiment for the tests of the harness, the store, the CLI and the report.

The ``conftest.py`` of those test directories import these fixtures; ``fake_experiment`` is autouse
there, so the fake is registered as ``fake-machinery`` only while one of their tests runs and other
suites that walk the registry never see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from wgflow.domains import Choice, Domain
from wgflow.harness import (
    ConfigError,
    DivergenceError,
    Experiment,
    ExperimentResult,
    claim_ge,
    claim_le,
    contract,
    list_experiments,
    register,
)

CALLS = {"work": 0}


@dataclass(frozen=True)
class FakeConfig:
    steps: int = 40  # iterations of the fake flow
    x: float = 1.0  # increment per step, > 0
    mode: str = "ok"  # what the run does: ok | diverge | interrupt | error
    label: str = "plain"  # a free string (to test escaping)

    domains: ClassVar[dict[str, Domain]] = {"mode": Choice("ok", "diverge", "interrupt", "error")}

    def validate(self):
        if not self.x > 0:
            raise ConfigError(f"config key 'x': must be > 0, got {self.x}")


class FakeMachinery(Experiment):
    name = "fake-machinery"
    title = "Fake experiment <for> the machinery tests"
    reference = "Nobody & Nobody, 2026 <i>not a paper</i>"
    description = (
        "Sums increments; claims one pass and one fail. <script>alert('x')</script>\n\n"
        ".. math::\n\n    S_n = \\sum_{k=1}^n \\tfrac12 x_k^2, \\qquad \\mathbb{E} S_n \\le n\n\n"
        "It converges at rate n^{-1/2}."
    )
    captions = {"fake_curve": "The sum grows linearly in the steps"}
    Config = FakeConfig
    presets = {"quick": {}, "full": {"steps": 400}}

    def run(self, cfg: FakeConfig, ctx) -> ExperimentResult:
        if cfg.mode == "diverge":
            raise DivergenceError("flow diverged at step 3: the risk is NaN; try a smaller step size")
        if cfg.mode == "interrupt":
            raise KeyboardInterrupt
        if cfg.mode == "error":
            raise RuntimeError("boom")

        def work():
            CALLS["work"] += 1
            total = np.cumsum(np.full(cfg.steps, cfg.x))  # (steps,)
            return {"total": total, "label": cfg.label}

        out = ctx.stage("work", work)
        for k in range(0, cfg.steps, 10):
            ctx.log_metric("total", float(out["total"][k]), step=k)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot(out["total"])
        fig_path = ctx.save_figure("fake_curve", fig)
        arr = ctx.save_array("totals", out["total"])
        final = float(out["total"][-1])
        claims = [
            claim_ge("sum_positive", "the sum is positive", final, 0.0),
            claim_le("sum_small", "the sum is tiny <b>(fails)</b>", final, 1e-3),
        ]
        return ExperimentResult(claims, {"final": final}, {"curve": fig_path, "totals": arr})


@pytest.fixture(autouse=True)
def fake_experiment():
    list_experiments()  # import the real ones first
    register(FakeMachinery)
    yield FakeMachinery
    contract._REGISTRY.pop(FakeMachinery.name, None)


@pytest.fixture
def store(tmp_path):
    from wgflow.store import Store

    s = Store(tmp_path / "store")
    yield s
    s.close()


_CLI_WITH_KILL = """
import os, signal, sys
from wgflow.harness import store_context as _store_context
# as started from a foreground shell: a suite launched in the background (nohup, &) hands its children
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler
signal.signal(signal.SIGINT, signal.default_int_handler)
after, sig = sys.argv.pop(1), sys.argv.pop(1)
if after:  # the process sends itself `sig` right after its `after`-th checkpoint, in the middle of a flow
    _store_context.on_checkpoint_saved = lambda n: n >= int(after) and os.kill(os.getpid(), getattr(signal, sig))
from wgflow.cli import main
sys.exit(main())
"""


@pytest.fixture
def wgflow_cli():
    """Run the CLI in a subprocess; ``kill_after=k`` injects the runner's checkpoint hook to send ``sig`` after k saves."""
    import os
    import subprocess
    import sys

    def run(*argv, kill_after: int | None = None, sig: str = "SIGKILL", timeout: float = 120):
        cmd = [sys.executable, "-c", _CLI_WITH_KILL, str(kill_after or ""), sig, *map(str, argv)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))

    return run


@pytest.fixture
def calls():
    """How often the fake experiment's stage function ran (to test memoised stages)."""
    return CALLS
