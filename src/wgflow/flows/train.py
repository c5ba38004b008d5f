r"""The one training loop: :func:`train` runs a particle flow, or an ensemble of independent flows.

The pieces: a :class:`StepScheme` (the update of :mod:`wgflow.flows.config`, its schedules
precomputed), a :class:`~wgflow.flows.recorder.Recorder`, the checkpoint plumbing of
:mod:`wgflow.flows.recorder` and the placement of :mod:`wgflow.flows.runtime`. The loop runs
an :class:`~wgflow.measures.measure.Ensemble` theta (E, n, p) against an
:class:`~wgflow.objectives.EnsembleRisk`, one batched computation per step; a single
:class:`~wgflow.measures.measure.ParticleMeasure` runs as the ensemble of one. An ensemble returns one
ordinary :class:`~wgflow.flows.trajectory.Trajectory` per member, a single flow its one trajectory.

Randomness. Minibatches and noise come from ``torch.Generator().manual_seed(seed)`` unless a
generator is given, so the same seed gives the same numbers on the CPU; an ensemble takes one
generator (or seed) per member, and an int ``seed`` gives member e ``seed + e``.

Checkpoints. With a :class:`~wgflow.flows.recorder.Checkpointer` the run resumes from its
``load()`` and saves its full state every ``every`` steps: a resumed run ends with exactly the
numbers of an uninterrupted one.

Threads and device (:mod:`wgflow.flows.runtime`). ``device`` defaults to
:func:`~wgflow.flows.runtime.use`'s, else mu's device. ``threads`` defaults to ``use``'s, else it
is chosen from the work per step of the whole flow or ensemble: one intra-op thread for small
steps, an ensemble's member blocks on several worker threads for large ones.

Compilation. ``compile=True`` runs the step blocks of a sampled objective through ``torch.compile``
(:mod:`wgflow.flows.runtime`): the same trajectory to rounding. Default off;
:func:`~wgflow.flows.runtime.use`'s ``compile`` (``wgflow run --compile``) applies to every flow of a run.

Stopping. ``stop=StopRule(test, every)`` ends a member's flow early: every ``every`` steps ``test(ensemble)``
says, per member, whether its flow is done (e.g. :func:`wgflow.objectives.margins.separates`: training error 0);
a done member takes no further step (its particles stay; time still passes), and once every member is done
the remaining steps pass without computation, as in the negative control. Trajectory ``meta["stopped_at"]``
is the step at which a member stopped (None: it ran to ``cfg.steps``); the checkpoints keep it, so a resumed
run stops where an uninterrupted one does.

Negative control. Under :func:`wgflow.control.untrained` no step is taken: the trajectory
records the initial particles at every requested step and time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import torch

from ..control import training_disabled
from ..domains import check_fits
from ..errors import DivergenceError
from ..measures.measure import Ensemble, ParticleMeasure
from ..objectives.risks import EnsembleRisk, Objective
from .config import FlowConfig, resolve_alpha, snapshot_schedule
from .recorder import Checkpointer, Recorder, flow_state, restore_flow_state
from .runtime import FLOPS_PER_WORKER, compile_for, make_generators, num_threads, resolve_device, threads_for
from .scheme import StepScheme, StopRule
from .trajectory import Trajectory

__all__ = ["train"]


def _diverged(k: int, t: float, what: str, cfg: FlowConfig) -> DivergenceError:
    return DivergenceError(
        f"flow diverged at step {k} (mean-field time {t:.4g}): {what} is NaN or Inf; "
        f"try a smaller step size (eta = {cfg.eta:g}, e.g. eta = {cfg.eta / 4:g})"
    )


def _flops(objective: EnsembleRisk, P: int | None, n: int, p: int, E: int) -> float:
    """Rough floating-point work of one step (forward + backward of a (E, B, n) block)."""
    if P is None:
        x = getattr(objective.members[0], "x", None)
        P = x.shape[0] if x is not None else getattr(objective.members[0], "n_test", n)
    return 6.0 * E * P * n * p


class _Flow:
    """One run of :func:`train`: the objective evaluation and the recording of an ensemble (E, n, p)."""

    def __init__(self, mu: Ensemble, objective: EnsembleRisk, cfg: FlowConfig, alpha: float, probe, snap_at):
        self.mu, self.objective, self.cfg, self.alpha = mu, objective, cfg, alpha
        self.probe, self.snap_at = probe, snap_at
        self.rec = Recorder()
        self.workers = 1  # block workers (wgflow.measures.blocks.map_blocks)
        self.compiled = False  # step blocks through torch.compile
        self.stop: StopRule | None = None
        self.stopped_at = np.full(mu.E, -1, dtype=np.int64)  # step at which a member stopped; -1: running

    def resume(self, state, generators, theta) -> tuple[torch.Tensor, int, float]:
        """Put a checkpoint's state back (generators, recorder, stopped members); returns (theta, step, time)."""
        theta, k, t = restore_flow_state(state, generators, theta.dtype, theta.device, self.rec)
        if "stopped_at" in state:
            self.stopped_at = np.array(state["stopped_at"], dtype=np.int64).reshape(self.mu.E)
        return theta, k, t

    def check_stop(self, scheme: StepScheme, k: int, theta) -> bool:
        """At a StopRule's step: stop the members whose test says done; True once every member has stopped."""
        if self.stop is not None and k % int(self.stop.every) == 0 and k < self.cfg.steps:
            done = np.asarray(self.stop.test(self.mu.with_theta(theta, check=False)), dtype=bool).reshape(-1)
            self.stopped_at[(self.stopped_at < 0) & done] = k
        if (self.stopped_at >= 0).any():
            moving = torch.as_tensor(self.stopped_at < 0, dtype=theta.dtype, device=theta.device)
            scheme.moving = moving[:, None, None]
        return bool((self.stopped_at >= 0).all())

    def value_and_grad(self, theta, P, generators):
        cur = self.mu.with_theta(theta, check=False)  # finiteness is checked via J and theta when recording
        # J stays a tensor: no host sync per step
        return self.objective.value_and_grad(
            cur, self.alpha, P, generators, workers=self.workers, compiled=self.compiled
        )

    def record(self, k: int, t: float, theta: torch.Tensor, J) -> None:
        """Snapshot and/or risk at step k when requested; ``J=None``: no step was taken (negative control)."""
        cfg = self.cfg
        is_risk = k % cfg.risk_every == 0 or k == cfg.steps
        if k not in self.snap_at and not is_risk:
            return
        if not torch.isfinite(theta).all():
            raise _diverged(k, t, "particle positions", cfg)
        cur = self.mu.with_theta(theta, check=False)
        if k in self.snap_at:
            probe_f = None
            if self.probe is not None:
                with torch.no_grad():
                    probe_f = cur.output(self.probe, self.alpha).cpu().numpy()
            self.rec.add_snapshot(k, t, theta, probe_f)
        if is_risk:
            r = self.objective.risk(cur, self.alpha)
            if not np.isfinite(r).all():
                raise _diverged(k, t, "the risk", cfg)
            if J is None:
                J = r
            elif isinstance(J, torch.Tensor):
                J = J.double().cpu().numpy()
            if not np.isfinite(J).all() and k > 0:
                raise _diverged(k, t, "the objective", cfg)
            self.rec.add_risk(k, t, r, np.broadcast_to(np.asarray(J, dtype=np.float64), np.shape(r)).copy())

    def idle(self, scheme: StepScheme, k: int, t: float, theta, bar) -> tuple[int, float]:
        """The negative control: time passes to cfg.steps, the particles stay; returns (steps, time)."""
        while k < self.cfg.steps:
            t += scheme.eta(k)
            k += 1
            self.record(k, t, theta, None)
            if bar is not None:
                bar.update(1)
        return k, t

    def advance(self, scheme: StepScheme, theta, k: int, t: float, generators, checkpointer, callback, bar, plan):
        """Steps k+1 ... cfg.steps: gradient, update, recording, callback, progress and checkpoints."""
        cfg = self.cfg
        every = int(checkpointer.every or 0) if checkpointer is not None else 0
        P_prev = cfg.batch_at(k)
        while k < cfg.steps and not self.check_stop(scheme, k, theta):
            P = cfg.batch_at(k)
            if P_prev != P:  # a new batch size (the quench): threads for the new work per step
                intra, self.workers = plan(P)
                torch.set_num_threads(intra)
                P_prev = P
            J, G = self.value_and_grad(theta, P, generators)
            theta = scheme.step(theta, G, k, generators)
            t += scheme.eta(k)
            k += 1
            self.record(k, t, theta, J)
            if callback is not None:
                callback(k, self.mu.with_theta(theta, check=False), J)
            if bar is not None:
                bar.update(1)
            if every and k % every == 0 and k < cfg.steps:
                state = flow_state(theta, k, t, generators, J.double().cpu().numpy(), self.rec)
                checkpointer.save({**state, "stopped_at": self.stopped_at.copy()})
        if k < cfg.steps:  # every member stopped: the remaining steps pass
            self.idle(scheme, k, t, theta, bar)
        return theta

    def trajectories(self, theta: torch.Tensor, objective_name: str) -> list[Trajectory]:
        """One trajectory per member (theta (E, n, p): the final particles)."""
        cfg, mu = self.cfg, self.mu
        meta = {
            "alpha": self.alpha,
            "n": mu.n,
            "flow": cfg.to_dict(),
            "objective": objective_name,
            "loss": getattr(self.objective, "loss", None),
        }
        s = self.rec.state()
        fields = dict(
            snapshot_steps=s["rec_snap_steps"],
            snapshot_times=s["rec_snap_times"],
            risk_steps=s["rec_risk_steps"],
            risk_times=s["rec_risk_times"],
        )
        probe = s["rec_probe"]
        return [
            Trajectory(
                snapshots=s["rec_snap"][:, e],
                risk=s["rec_risk"][:, e],
                train_loss=s["rec_train"][:, e],
                probe_f=probe[:, e] if probe.ndim == 3 else np.zeros((0, 0)),
                final=mu.with_theta(theta, check=False).member(e),
                meta={**meta, "member": e, "ensemble": mu.E, "stopped_at": _step_or_none(self.stopped_at[e])},
                **fields,
            )
            for e in range(mu.E)
        ]


@overload
def train(
    mu: ParticleMeasure,
    objective: Objective,
    cfg: FlowConfig | None = None,
    *,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    seed: int | Sequence[int] = 0,
    probe: torch.Tensor | None = None,
    checkpointer: Checkpointer | None = None,
    progress: Callable | None = None,
    callback: Callable[[int, Any, Any], None] | None = None,
    stop: StopRule | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    compile: bool | None = None,
    **overrides: Any,
) -> Trajectory: ...


@overload
def train(
    mu: Ensemble,
    objective: Objective | EnsembleRisk | Sequence[Objective],
    cfg: FlowConfig | None = None,
    *,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    seed: int | Sequence[int] = 0,
    probe: torch.Tensor | None = None,
    checkpointer: Checkpointer | None = None,
    progress: Callable | None = None,
    callback: Callable[[int, Any, Any], None] | None = None,
    stop: StopRule | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    compile: bool | None = None,
    **overrides: Any,
) -> list[Trajectory]: ...


def train(
    mu: ParticleMeasure | Ensemble,
    objective: Objective | EnsembleRisk | Sequence[Objective],
    cfg: FlowConfig | None = None,
    *,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    seed: int | Sequence[int] = 0,
    probe: torch.Tensor | None = None,
    checkpointer: Checkpointer | None = None,
    progress: Callable | None = None,
    callback: Callable[[int, Any, Any], None] | None = None,
    stop: StopRule | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
    compile: bool | None = None,
    **overrides: Any,
) -> Trajectory | list[Trajectory]:
    """Run the particle flow from ``mu`` (n, p), or an :class:`Ensemble` (E, n, p) of flows; record it.

    ``objective``: an :class:`~wgflow.objectives.Objective`, for an ensemble an :class:`EnsembleRisk` or E
    objectives of one type (member e's: ``objective[e]``). ``cfg``: a :class:`FlowConfig` (keyword ``overrides`` replace its fields); mu's dtype
    is the run's. ``seed`` / ``generator``, ``checkpointer``, ``device``, ``threads``, ``compile``: see the
    module docstring. ``probe``: (P, d) points where f is recorded at every snapshot;
    ``progress(total=, desc=)``: a bar with ``update(k)``; ``callback(step, mu, J)``: after every step; ``stop``.
    Returns a :class:`Trajectory` (an ensemble: a list of E). Raises :class:`DivergenceError` on NaN/Inf
    in the particles or the risk (suggesting a smaller eta).
    """
    cfg = _config(cfg, overrides)
    single = isinstance(mu, ParticleMeasure)  # run as the ensemble of one, returned as one trajectory
    name = type(objective).__name__ if single else EnsembleRisk.__name__
    ens, risk, generators = _placed(mu, objective, device, generator, seed)
    _check_batch_fits(cfg, ens)
    scheme = StepScheme(cfg, ens.unit, ens.theta)
    theta = scheme.project(ens.theta.detach().clone())
    if probe is not None:
        probe = probe.to(dtype=theta.dtype, device=theta.device)
    flow = _Flow(ens, risk, cfg, resolve_alpha(cfg.alpha, ens.n), probe, _snapshot_steps(cfg))
    flow.compiled, flow.stop = compile_for(compile), stop
    k, t, state = 0, 0.0, checkpointer.load() if checkpointer is not None else None
    if state is not None:
        theta, k, t = flow.resume(state, generators, theta)
    plan = _thread_plan(risk, ens, threads, block_workers=not flow.compiled)  # torch.compile: not thread-safe
    bar = progress(total=cfg.steps, desc=f"flow n={ens.n}" + ("" if single else f" x{ens.E}")) if progress else None
    if bar is not None and k:
        bar.update(k)
    intra, flow.workers = plan(cfg.batch_at(k))
    if isinstance(mu, ParticleMeasure) and callback is not None:
        callback = _one_member(callback, mu)
    with num_threads(intra):
        if k == 0 and state is None:
            flow.record(0, 0.0, theta, float("nan"))
        try:
            if training_disabled():  # wgflow.control.untrained(): time passes, the particles stay
                k, t = flow.idle(scheme, k, t, theta, bar)
            theta = flow.advance(scheme, theta, k, t, generators, checkpointer, callback, bar, plan)
        finally:
            if bar is not None:
                bar.close()
    trajs = flow.trajectories(theta, name)
    return _one_flow(trajs[0]) if single else trajs


def _step_or_none(k) -> int | None:
    return None if k < 0 else int(k)


def _one_flow(traj: Trajectory) -> Trajectory:
    """The trajectory of a single flow: the ensemble of one's, without the member index."""
    for key in ("member", "ensemble"):
        traj.meta.pop(key)
    return traj


def _one_member(callback: Callable, mu: ParticleMeasure) -> Callable:
    """A single flow's callback(step, mu (n, p), J float) from the ensemble of one's (step, ensemble, J (1,))."""
    return lambda k, ens, J: callback(k, mu.with_theta(ens.theta[0], check=False), float(J[0]))


def _thread_plan(objective: EnsembleRisk, mu: Ensemble, threads: int | None, block_workers: bool = True) -> Callable:
    """Batch size P -> (intra-op threads, block workers) from the work per step of the whole ensemble.

    Members are blocks of their own: an ensemble of one puts its threads inside the operations."""

    def plan(P: int | None) -> tuple[int, int]:
        work = _flops(objective, P, mu.n, mu.p, mu.E)
        if mu.E > 1 and block_workers and mu.theta.device.type == "cpu":  # whole member blocks on worker threads
            workers = threads_for(work, threads, per_thread=FLOPS_PER_WORKER)
            if workers > 1:
                return 1, workers
        return threads_for(work, threads), 1

    return plan


def _placed(mu, objective, device, generator, seed) -> tuple[Ensemble, EnsembleRisk, list[torch.Generator]]:
    """mu as an ensemble (a measure: of one) on the run's device, its objectives as one EnsembleRisk, the generators."""
    if not isinstance(mu, (ParticleMeasure, Ensemble)):
        raise TypeError(f"train: mu must be a ParticleMeasure (n, p) or an Ensemble (E, n, p), got {type(mu).__name__}")
    ens = Ensemble.of(mu)
    if not isinstance(objective, EnsembleRisk):
        members = [objective] if isinstance(mu, ParticleMeasure) or not isinstance(objective, Sequence) else objective
        for m in members:
            if not (callable(getattr(m, "risk", None)) and callable(getattr(m, "value_and_grad", None))):
                raise TypeError(
                    "train: the objective must be an Objective (risk and value_and_grad, e.g. OnlineRisk or "
                    f"DatasetRisk), or for an ensemble a sequence of them, got {type(m).__name__}"
                )
        objective = EnsembleRisk(members)
    if len(objective) != ens.E:
        raise ValueError(f"ensemble of {ens.E} members but {len(objective)} member objectives")
    dev = resolve_device(device, ens.theta.device)
    if ens.theta.device != dev:
        w = None if ens.weights is None else ens.weights.to(dev)
        ens = Ensemble(ens.theta.to(dev), ens.unit, w)
    return ens, objective, make_generators(dev, generator, seed, ens.E if isinstance(mu, Ensemble) else None)


def _config(cfg: FlowConfig | None, overrides: dict[str, Any]) -> FlowConfig:
    if cfg is not None and not isinstance(cfg, FlowConfig):
        raise TypeError(f"train: cfg must be a FlowConfig or None, got {type(cfg).__name__}")
    return dataclasses.replace(cfg or FlowConfig(), **overrides)


def _check_batch_fits(cfg: FlowConfig, ens: Ensemble) -> None:
    """The largest tensor of a sampled step, the units' pre-activations (E, P, n), with its activation and
    derivative beside it: checked against the memory available before the first step allocates it."""
    P = max([cfg.batch_at(0) or 0, *(int(size) for _, size in cfg.batch_schedule)])
    if P and ens.theta.device.type == "cpu":
        nbytes = 3.0 * ens.E * P * ens.n * ens.theta.element_size()
        check_fits(nbytes, f"a batch of {P} points through {ens.n} units", "lower the batch size or n")


def _snapshot_steps(cfg: FlowConfig) -> set[int]:
    if cfg.snapshot_steps:
        return {0, cfg.steps} | {int(s) for s in cfg.snapshot_steps if 0 <= int(s) <= cfg.steps}
    return {int(s) for s in snapshot_schedule(cfg.steps, cfg.n_snapshots, cfg.snapshot_spacing)}
