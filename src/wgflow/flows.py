r"""Time stepping of particle flows in mean-field time.

One step of size eta_t (SCIENCE.md §1; Mei, Montanari & Nguyen 2018 eq. 6;
Chizat 2022 for the noisy version)::

    theta_i <- theta_i - eta_t M * ( grad V(theta_i; mu_n) + wd theta_i ) + sqrt(2 lambda_t eta_t M) xi_i,

with G_i = grad V(theta_i; mu_n) = n dJ/dtheta_i from the objective
(:mod:`wgflow.objectives`), M a per-coordinate step multiplier (output weight
vs inner weights; 0 freezes a layer), wd the weight decay and lambda_t the
temperature of mean-field Langevin dynamics (lambda = 0: gradient descent).
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
from typing import Any, Callable

import numpy as np
import torch

from .control import training_disabled
from .errors import DivergenceError
from .measure import ParticleMeasure
from .objectives import Objective
from .trajectory import Trajectory

__all__ = ["FlowConfig", "train", "snapshot_schedule", "resolve_alpha"]


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
    n_snapshots: int = 20  # particle snapshots recorded (first and last included)
    snapshot_spacing: str = "log"  # "log" | "linear"
    snapshot_steps: tuple = ()  # explicit snapshot steps (overrides n_snapshots/spacing); 0 and steps always added
    risk_every: int = 10  # evaluation risk every this many steps (and at the end)
    memory_budget: int | None = None  # bytes per (batch x particles) block; None = 256 MiB

    def __post_init__(self):
        def bad(key, msg):
            raise ValueError(f"FlowConfig.{key}: {msg}")

        if not (isinstance(self.eta, (int, float)) and self.eta > 0 and math.isfinite(self.eta)):
            bad("eta", f"must be a positive number, got {self.eta!r}")
        if not isinstance(self.steps, int) or self.steps < 0:
            bad("steps", f"must be a non-negative integer, got {self.steps!r}")
        if isinstance(self.alpha, str):
            if self.alpha != "ntk":
                bad("alpha", f"must be a positive number or 'ntk', got {self.alpha!r}")
        elif not self.alpha > 0:
            bad("alpha", f"must be positive, got {self.alpha!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            bad("batch_size", f"must be a positive integer or None, got {self.batch_size!r}")
        for item in self.batch_schedule:
            if len(item) != 2 or int(item[1]) < 1 or int(item[0]) < 0:
                bad("batch_schedule", f"entries must be (from_step >= 0, P >= 1), got {item!r}")
        if self.noise < 0:
            bad("noise", f"temperature must be >= 0, got {self.noise}")
        if self.noise_schedule not in ("constant", "log", "geometric"):
            bad("noise_schedule", f"choose 'constant', 'log' or 'geometric', got {self.noise_schedule!r}")
        if self.schedule not in ("constant", "inv_sqrt"):
            bad("schedule", f"choose 'constant' or 'inv_sqrt', got {self.schedule!r}")
        if self.snapshot_spacing not in ("log", "linear"):
            bad("snapshot_spacing", f"choose 'log' or 'linear', got {self.snapshot_spacing!r}")
        if self.n_snapshots < 2:
            bad("n_snapshots", "must be at least 2 (start and end)")
        if self.risk_every < 1:
            bad("risk_every", "must be >= 1")
        if self.eta_output < 0 or self.eta_inner < 0 or self.weight_decay < 0:
            bad("eta_output/eta_inner/weight_decay", "must be >= 0")

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


class _Recorder:
    def __init__(self):
        self.snap, self.snap_steps, self.snap_times, self.probe = [], [], [], []
        self.risk, self.risk_steps, self.risk_times, self.train = [], [], [], []

    def state(self) -> dict[str, np.ndarray]:
        n_p = self.snap[0].shape if self.snap else (0, 0)
        return {
            "rec_snap": np.stack(self.snap) if self.snap else np.zeros((0, *n_p)),
            "rec_snap_steps": np.asarray(self.snap_steps, dtype=np.int64),
            "rec_snap_times": np.asarray(self.snap_times, dtype=np.float64),
            "rec_probe": np.stack(self.probe) if self.probe else np.zeros((0, 0)),
            "rec_risk": np.asarray(self.risk, dtype=np.float64),
            "rec_risk_steps": np.asarray(self.risk_steps, dtype=np.int64),
            "rec_risk_times": np.asarray(self.risk_times, dtype=np.float64),
            "rec_train": np.asarray(self.train, dtype=np.float64),
        }

    def restore(self, s: dict[str, np.ndarray]) -> None:
        self.snap = list(s["rec_snap"])
        self.snap_steps = list(s["rec_snap_steps"])
        self.snap_times = list(s["rec_snap_times"])
        self.probe = list(s["rec_probe"]) if s["rec_probe"].size else []
        self.risk = list(s["rec_risk"])
        self.risk_steps = list(s["rec_risk_steps"])
        self.risk_times = list(s["rec_risk_times"])
        self.train = list(s["rec_train"])


def _diverged(k: int, t: float, what: str, cfg: FlowConfig) -> DivergenceError:
    return DivergenceError(
        f"flow diverged at step {k} (mean-field time {t:.4g}): {what} is NaN or Inf; "
        f"try a smaller step size (eta = {cfg.eta:g}, e.g. eta = {cfg.eta / 4:g})"
    )


def train(
    mu: ParticleMeasure,
    objective: Objective,
    cfg: FlowConfig | None = None,
    *,
    generator: torch.Generator | None = None,
    seed: int = 0,
    probe: torch.Tensor | None = None,
    checkpointer: Any = None,
    progress: Callable | None = None,
    callback: Callable[[int, ParticleMeasure, float], None] | None = None,
    **overrides: Any,
) -> Trajectory:
    """Run the particle flow from ``mu`` and record its trajectory.

    Parameters
    ----------
    mu : initial particle measure (n, p); its dtype sets the dtype of the run.
    objective : a :class:`~wgflow.objectives.Objective` (exact, data set or online risk).
    cfg : :class:`FlowConfig` (keyword ``overrides`` replace its fields).
    generator / seed : randomness of minibatches and noise; ``generator=None`` uses
        ``torch.Generator().manual_seed(seed)``, so the same seed gives the same numbers on CPU.
    probe : optional (P, d) points where f is recorded at every snapshot.
    checkpointer : object with ``every``, ``save(dict)``, ``load() -> dict | None``;
        the run resumes from ``load()`` and saves its full state every ``every`` steps,
        so a resumed run ends with exactly the numbers of an uninterrupted one.
    progress : ``progress(total=, desc=)`` returning a bar with ``update(k)`` (e.g. tqdm).
    callback : called as ``callback(step, mu, J)`` after every step.

    Raises
    ------
    DivergenceError : NaN/Inf in the particles or the risk (the message suggests a smaller eta).

    Under :func:`wgflow.control.untrained` no step is taken: the trajectory records the
    initial particles at every requested step and time (the negative control of a claim).
    """
    cfg = cfg or FlowConfig()
    if overrides:
        cfg = dataclasses.replace(cfg, **overrides)
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    alpha = resolve_alpha(cfg.alpha, mu.n)
    unit = mu.unit
    theta = unit.project(mu.theta.detach().clone())
    dtype = theta.dtype
    if probe is not None:
        probe = probe.to(dtype)

    # per-coordinate step multipliers M (p,)
    M = torch.full((mu.p,), cfg.eta_inner, dtype=dtype, device=theta.device)
    M[unit.output_mask(theta)] = cfg.eta_output

    if cfg.snapshot_steps:
        snap_at = {0, cfg.steps} | {int(s) for s in cfg.snapshot_steps if 0 <= int(s) <= cfg.steps}
    else:
        snap_at = set(int(s) for s in snapshot_schedule(cfg.steps, cfg.n_snapshots, cfg.snapshot_spacing))
    rec = _Recorder()
    k, t = 0, 0.0
    last_J = float("nan")

    state = checkpointer.load() if checkpointer is not None else None
    if state is not None:
        theta = torch.from_numpy(np.array(state["theta"])).to(dtype)
        k, t = int(state["step"]), float(state["time"])
        generator.set_state(torch.from_numpy(np.array(state["generator"], dtype=np.uint8)))
        rec.restore(state)
        last_J = float(state.get("last_J", float("nan")))

    def record(k: int, t: float, J: float | None) -> None:
        is_risk = k % cfg.risk_every == 0 or k == cfg.steps
        if k not in snap_at and not is_risk:
            return
        if not torch.isfinite(theta).all():
            raise _diverged(k, t, "particle positions", cfg)
        cur = mu.with_theta(theta, check=False)
        if k in snap_at:
            rec.snap.append(theta.detach().cpu().numpy().copy())
            rec.snap_steps.append(k)
            rec.snap_times.append(t)
            if probe is not None:
                with torch.no_grad():
                    rec.probe.append(cur.output(probe, alpha).cpu().numpy())
        if is_risk:
            r = objective.risk(cur, alpha)
            if not math.isfinite(r):
                raise _diverged(k, t, "the risk", cfg)
            rec.risk.append(r)
            rec.risk_steps.append(k)
            rec.risk_times.append(t)
            rec.train.append(r if J is None else J)  # None: no training step was taken (negative control)

    bar = progress(total=cfg.steps, desc=f"flow n={mu.n}") if progress is not None else None
    if bar is not None and k:
        bar.update(k)
    if k == 0 and state is None:
        record(0, 0.0, float("nan"))
    every = int(getattr(checkpointer, "every", 0) or 0)
    frozen = training_disabled()  # wgflow.control.untrained(): time passes, the particles stay
    try:
        while k < cfg.steps:
            eta = cfg.eta_at(k)
            if frozen:
                k += 1
                t += eta
                record(k, t, None)
                if bar is not None:
                    bar.update(1)
                continue
            cur = mu.with_theta(theta, check=False)  # finiteness is checked via J and when recording
            J, G = objective.value_and_grad(cur, alpha, batch_size=cfg.batch_at(k), generator=generator)
            if not math.isfinite(J):
                raise _diverged(k, t, "the objective", cfg)
            if cfg.weight_decay:
                G = G + cfg.weight_decay * theta
            G = unit.project_grad(theta, G)
            theta = theta - eta * M * G
            lam = cfg.noise_at(k)
            if lam > 0:
                xi = torch.randn(theta.shape, generator=generator, dtype=dtype, device=theta.device)
                theta = theta + torch.sqrt(2 * lam * eta * M) * xi
            theta = unit.project(theta)
            k += 1
            t += eta
            last_J = J
            record(k, t, J)
            if callback is not None:
                callback(k, mu.with_theta(theta, check=False), J)
            if bar is not None:
                bar.update(1)
            if every and k % every == 0 and k < cfg.steps:
                checkpointer.save(
                    {
                        "theta": theta.detach().cpu().numpy(),
                        "step": np.array(k),
                        "time": np.array(t),
                        "generator": generator.get_state().numpy(),
                        "last_J": np.array(last_J),
                        **rec.state(),
                    }
                )
    finally:
        if bar is not None:
            bar.close()

    final = mu.with_theta(theta)
    meta = {"alpha": alpha, "n": mu.n, "flow": cfg.to_dict(), "objective": type(objective).__name__,
            "loss": getattr(objective, "loss", None)}
    s = rec.state()
    return Trajectory(
        snapshots=s["rec_snap"],
        snapshot_steps=s["rec_snap_steps"],
        snapshot_times=s["rec_snap_times"],
        risk=s["rec_risk"],
        risk_steps=s["rec_risk_steps"],
        risk_times=s["rec_risk_times"],
        train_loss=s["rec_train"],
        probe_f=s["rec_probe"],
        final=final,
        meta=meta,
    )
