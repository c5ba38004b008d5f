r"""Settings of a particle flow: :class:`FlowConfig`, output scale, snapshot steps.

The flow these settings drive (:func:`wgflow.flows.train`):

One step of size eta_t (docs/science.md §1.4; Mei, Montanari & Nguyen 2018 eq. 6;
Chizat 2022 for the noisy version)::

    theta_i <- theta_i - eta_t M * ( grad V(theta_i; mu_n) + wd theta_i ) + sqrt(2 lambda_t eta_t M) xi_i,

with G_i = grad V(theta_i; mu_n) = n dJ/dtheta_i from the objective
(:mod:`wgflow.objectives`), M a per-coordinate step multiplier (output weight
vs inner weights; 0 freezes a layer), wd the weight decay and lambda_t the
temperature of mean-field Langevin dynamics (lambda = 0: gradient descent).

Step rules (``step_rule``) scale eta_t by a factor of the current particles, one per flow
(an ensemble's member), taken before the step:

- ``"fixed"``: 1;
- ``"output_rms"``: max(1, rms c) with rms c = sqrt((1/n) sum_i |c_i|^2) over the output weights,
  the rule of Chizat & Bach's output-layer-only runs (``twonet(...; both=false)`` in
  lchizat/2020-implicit-bias-wide-2NN: ``betas = max(1, sqrt(sum(c.^2)/m))`` multiplies the step).
  Once the output weights grow the step grows with them, so the (1-homogeneous in c) output-layer
  flow keeps its pace as the margin sets in.

Mean-field time counts the schedule's steps eta_t, without the rule's factor.
In this time the dynamics do not depend on n, so runs of different widths are
comparable step for step (law of large numbers).

Full-batch GD uses the objective's exact or full-data gradient; SGD uses P
fresh samples (:class:`~wgflow.objectives.OnlineRisk`) or a minibatch of a
data set, with an optional batch-size schedule (RVE's "quench").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..domains import AnyOf, Choice, Domain, Float, Int, OrNone, check_fields
from ..errors import ConfigError

__all__ = ["FlowConfig", "snapshot_schedule", "resolve_alpha"]


@dataclass(frozen=True)
class FlowConfig:
    """Settings of a particle flow. Every field has a documented default."""

    eta: float = 0.1  # step size in mean-field time
    steps: int = 1000  # number of steps
    alpha: float | str = 1.0  # output scale: 1 mean field, "ntk" = sqrt(n), large = lazy
    batch_size: int | None = None  # SGD batch P (None: full batch / exact gradient)
    batch_schedule: tuple = ()  # ((from_step, P), ...): P from that step on (RVE quench)
    noise: float = 0.0  # temperature lambda of mean-field Langevin dynamics
    noise_schedule: str = "constant"  # "constant" | "log": lambda/log(e+t) | "geometric": lambda*decay^step
    noise_decay: float = 1.0  # factor per step for the geometric schedule
    noise_until: int | None = None  # noise only for steps < noise_until (RVE's thermal phase)
    weight_decay: float = 0.0  # adds (wd/2) \int |theta|^2 dmu to the objective
    schedule: str = "constant"  # step sizes: "constant" | "inv_sqrt": eta/sqrt(k+1)
    eta_output: float = 1.0  # multiplier of the output-weight step (0 freezes it)
    eta_inner: float = 1.0  # multiplier of the inner-weight step (0: train the output layer only)
    step_rule: str = "fixed"  # "fixed" | "output_rms": eta_t x max(1, rms of the output weights), per flow
    n_snapshots: int = 20  # particle snapshots recorded (first and last included)
    snapshot_spacing: str = "log"  # "log" | "linear"
    snapshot_steps: tuple = ()  # explicit snapshot steps (overrides n_snapshots/spacing); 0 and steps always added
    risk_every: int = 10  # evaluation risk every this many steps (and at the end)
    memory_budget: int | None = None  # bytes per (batch x particles) block; None = 256 MiB

    #: what each checked field accepts (:mod:`wgflow.domains`); a bad value is a one-line ConfigError
    domains: ClassVar[dict[str, Domain]] = {
        "eta": Float(0, open_lo=True),
        "steps": Int(0, None),
        "alpha": AnyOf(Float(0, open_lo=True), Choice("ntk")),
        "batch_size": OrNone(Int(1, None)),
        "noise": Float(0),
        "noise_schedule": Choice("constant", "log", "geometric"),
        "schedule": Choice("constant", "inv_sqrt"),
        "step_rule": Choice("fixed", "output_rms"),
        "snapshot_spacing": Choice("log", "linear"),
        "n_snapshots": Int(2, None),
        "risk_every": Int(1, None),
        "eta_output": Float(0),
        "eta_inner": Float(0),
        "weight_decay": Float(0),
    }

    def __post_init__(self):
        check_fields(self, self.domains, "FlowConfig")
        for item in self.batch_schedule:
            if len(item) != 2 or int(item[1]) < 1 or int(item[0]) < 0:
                raise ConfigError(f"FlowConfig.batch_schedule: entries must be (from_step >= 0, P >= 1), got {item!r}")

    # -------------------------------------------------------------- schedules
    def eta_at(self, k: int) -> float:
        return self.eta / math.sqrt(k + 1) if self.schedule == "inv_sqrt" else self.eta

    def noise_at(self, k: int) -> float:
        if self.noise == 0 or (self.noise_until is not None and k >= self.noise_until):
            return 0.0
        if self.noise_schedule == "log":
            return self.noise / math.log(math.e + k)
        if self.noise_schedule == "geometric":
            return self.noise * self.noise_decay**k
        return self.noise

    def batch_at(self, k: int) -> int | None:
        P = self.batch_size
        for start, size in sorted(self.batch_schedule):
            if k >= int(start):
                P = int(size)
        return P

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["batch_schedule"] = [list(map(int, x)) for x in self.batch_schedule]
        d["snapshot_steps"] = [int(x) for x in self.snapshot_steps]
        return d


def resolve_alpha(alpha: float | str, n: int) -> float:
    """Numeric output scale: ``"ntk"`` means sqrt(n)."""
    return math.sqrt(n) if alpha == "ntk" else float(alpha)


def snapshot_schedule(steps: int, count: int, spacing: str = "log") -> np.ndarray:
    """Integer steps in [0, steps] at which snapshots are taken (0 and ``steps`` included)."""
    if steps == 0:
        return np.array([0])
    if spacing == "log":
        inner = np.geomspace(1, steps, max(count - 1, 1))
    else:
        inner = np.linspace(0, steps, count)
    return np.unique(np.concatenate([[0], np.round(inner).astype(np.int64), [steps]]))
