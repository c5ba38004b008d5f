"""A cheap experiment for sweep tests: a known power law, and points that raise, diverge or die.

Imported by the tests (which registers it) and, through the task's module file, by the
sweep's worker processes.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from wgflow.domains import Choice, Domain
from wgflow.harness import DivergenceError, Experiment, ExperimentResult, claim_le, register


@dataclass(frozen=True)
class FakeConfig:
    n: int = 8  # "width": the loss is 3 / n (1 + seed / 100)
    mode: str = "ok"  # "ok" | "raise" | "diverge" | "die" (SIGKILL itself) | "slow" (sleeps $SWEEP_FAKE_SLEEP s)
    domains: ClassVar[dict[str, Domain]] = {"mode": Choice("ok", "raise", "diverge", "die", "slow")}


@register
class SweepFake(Experiment):
    name = "sweep-fake"
    title = "Sweep test experiment"
    reference = "none"
    description = "loss = 3/n"
    Config = FakeConfig

    def run(self, cfg, ctx):
        if cfg.mode == "raise":
            raise RuntimeError(f"point n={cfg.n} raises on purpose")
        if cfg.mode == "diverge":
            raise DivergenceError("risk is NaN; try a smaller step size")
        if cfg.mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if cfg.mode == "slow":
            time.sleep(float(os.environ.get("SWEEP_FAKE_SLEEP", "60")))
        loss = 3.0 / cfg.n * (1 + ctx.seed / 100)
        for k in range(3):
            ctx.log_metric("loss_curve", loss * (3 - k), step=k)
        path = ctx.save_array("weights", np.arange(cfg.n, dtype=float) * (ctx.seed + 1))
        claims = [claim_le("small_loss", "loss below 1", loss, 1.0)]
        return ExperimentResult(claims, {"loss": loss, "n_twice": 2 * cfg.n}, {"weights": path})
