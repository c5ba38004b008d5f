r"""The one training loop: :func:`train` runs a particle flow, or an ensemble of independent flows.

The pieces: a :class:`StepScheme` (the update of :mod:`wgflow.flows.config`, its schedules
precomputed), a :class:`~wgflow.flows.recorder.Recorder`, the checkpoint plumbing of
:mod:`wgflow.flows.recorder` and the placement of :mod:`wgflow.flows.runtime`. A single flow
evaluates its :class:`~wgflow.objectives.Objective` as before; an ensemble
(:class:`~wgflow.flows.ensemble.Ensemble`) evaluates an
:class:`~wgflow.flows.ensemble.EnsembleRisk` in one batched computation per step and returns one
ordinary :class:`~wgflow.flows.trajectory.Trajectory` per member.

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

Compilation. ``compile=True`` runs an ensemble's step through ``torch.compile``
(:mod:`wgflow.flows.runtime`): the same trajectory to rounding; its gain on whole runs was within
the noise of a loaded 2-core machine, after 20-40 s of compiling. Default off; :func:`~wgflow.flows.runtime.use`'s ``compile`` (``wgflow
run --compile``) applies to the ensembles of a run, and its single flows stay eager.

Negative control. Under :func:`wgflow.control.untrained` no step is taken: the trajectory
records the initial particles at every requested step and time.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import torch

from ..control import training_disabled
from ..errors import ConfigError, DivergenceError
from ..measures.measure import ParticleMeasure
from ..measures.units import Unit
from ..objectives.risks import Objective
from .config import FlowConfig, resolve_alpha, snapshot_schedule
from .ensemble import Ensemble, EnsembleRisk
from .recorder import Checkpointer, Recorder, flow_state, restore_flow_state
from .runtime import FLOPS_PER_WORKER, compile_for, make_generators, num_threads, resolve_device, threads_for
from .trajectory import Trajectory

__all__ = ["train", "StepScheme"]


class StepScheme:
    r"""theta <- project(theta - eta_k M (G + wd theta) + sqrt(2 lambda_k eta_k M) xi), schedules cached.

    Works on (n, p) and (E, n, p) alike; member e's noise comes from ``generators[e]``.
    """

    def __init__(self, cfg: FlowConfig, unit, theta: torch.Tensor):
        self.cfg, self.unit = cfg, unit
        M = torch.full((theta.shape[-1],), cfg.eta_inner, dtype=theta.dtype, device=theta.device)
        M[unit.output_mask(theta.reshape(-1, theta.shape[-1]))] = cfg.eta_output
        self.M = M
        self._batches = sorted((int(s), int(P)) for s, P in cfg.batch_schedule)
        self._const_eta = cfg.schedule == "constant"
        # unconstrained units (identity retraction) skip the per-member loop of an ensemble
        self._constrained = type(unit).project is not Unit.project or type(unit).project_grad is not Unit.project_grad

    def eta(self, k: int) -> float:
        return self.cfg.eta if self._const_eta else self.cfg.eta_at(k)

    def batch(self, k: int) -> int | None:
        P = self.cfg.batch_size
        for start, size in self._batches:
            if k < start:
                break
            P = size
        return P

    def project(self, theta: torch.Tensor, G: torch.Tensor | None = None) -> torch.Tensor:
        """Retraction of theta, or tangent projection of G at theta (member by member for ensembles)."""
        u = self.unit
        if theta.ndim == 2:
            return u.project(theta) if G is None else u.project_grad(theta, G)
        if not self._constrained:
            return theta if G is None else G
        if G is None:
            return torch.stack([u.project(t) for t in theta])
        return torch.stack([u.project_grad(t, g) for t, g in zip(theta, G)])

    def noise(self, theta: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
        """Standard Gaussian xi shaped like theta; member e's from ``generators[e]``."""
        kw: dict[str, Any] = {"dtype": theta.dtype, "device": theta.device}
        if theta.ndim == 2:
            return torch.randn(theta.shape, generator=generators[0], **kw)
        return torch.stack([torch.randn(theta.shape[1:], generator=g, **kw) for g in generators])

    def step(self, theta: torch.Tensor, G: torch.Tensor, k: int, generators) -> torch.Tensor:
        cfg, eta = self.cfg, self.eta(k)
        if cfg.weight_decay:
            G = G + cfg.weight_decay * theta
        theta = theta - eta * self.M * self.project(theta, G)
        lam = cfg.noise_at(k)
        if lam > 0:
            theta = theta + torch.sqrt(2 * lam * eta * self.M) * self.noise(theta, generators)
        return self.project(theta)


def _diverged(k: int, t: float, what: str, cfg: FlowConfig) -> DivergenceError:
    return DivergenceError(
        f"flow diverged at step {k} (mean-field time {t:.4g}): {what} is NaN or Inf; "
        f"try a smaller step size (eta = {cfg.eta:g}, e.g. eta = {cfg.eta / 4:g})"
    )


def _flops(objective, P: int | None, n: int, p: int, E: int) -> float:
    """Rough floating-point work of one step (forward + backward of a (E, B, n) block)."""
    if P is None:
        x = getattr(objective, "x", None)
        P = x.shape[0] if x is not None else getattr(objective, "n_test", n)
    return 6.0 * E * P * n * p


class _Flow:
    """One run of :func:`train`: the objective evaluation and the recording of a flow or an ensemble."""

    def __init__(self, mu, objective, cfg: FlowConfig, alpha: float, probe, snap_at: set[int]):
        self.mu, self.objective, self.cfg, self.alpha = mu, objective, cfg, alpha
        self.probe, self.snap_at = probe, snap_at
        self.ensemble = isinstance(mu, Ensemble)
        self.rec = Recorder()
        self.workers = 1  # an ensemble's block workers (flows.runtime.map_blocks)
        self.compiled = False  # an ensemble's blocks through torch.compile

    def value_and_grad(self, theta, P, generators, k, t):
        cur = self.mu.with_theta(theta, check=False)  # finiteness is checked via J and when recording
        if self.ensemble:  # J stays a tensor: no host sync per step; checked when recorded
            return self.objective.value_and_grad(
                cur, self.alpha, P, generators, workers=self.workers, compiled=self.compiled
            )
        J, G = self.objective.value_and_grad(cur, self.alpha, batch_size=P, generator=generators[0])
        if not math.isfinite(J):
            raise _diverged(k, t, "the objective", self.cfg)
        return J, G

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
            self.rec.add_risk(
                k, t, r, np.broadcast_to(np.asarray(J, dtype=np.float64), np.shape(r)).copy() if self.ensemble else J
            )

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
        P_prev = scheme.batch(k)
        while k < cfg.steps:
            P = scheme.batch(k)
            if P_prev != P:  # a new batch size (the quench): threads for the new work per step
                intra, self.workers = plan(P)
                torch.set_num_threads(intra)
                P_prev = P
            J, G = self.value_and_grad(theta, P, generators, k, t)
            theta = scheme.step(theta, G, k, generators)
            t += scheme.eta(k)
            k += 1
            self.record(k, t, theta, J)
            if callback is not None:
                callback(k, self.mu.with_theta(theta, check=False), J)
            if bar is not None:
                bar.update(1)
            if every and k % every == 0 and k < cfg.steps:
                lj = J.double().cpu().numpy() if isinstance(J, torch.Tensor) else J
                checkpointer.save(flow_state(theta, k, t, generators, lj, self.rec))
        return theta

    def trajectories(self, theta: torch.Tensor, objective_name: str):
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
        if not self.ensemble:
            return Trajectory(
                snapshots=s["rec_snap"],
                risk=s["rec_risk"],
                train_loss=s["rec_train"],
                probe_f=s["rec_probe"],
                final=mu.with_theta(theta),
                meta=meta,
                **fields,
            )
        probe = s["rec_probe"]
        return [
            Trajectory(
                snapshots=s["rec_snap"][:, e],
                risk=s["rec_risk"][:, e],
                train_loss=s["rec_train"][:, e],
                probe_f=probe[:, e] if probe.ndim == 3 else np.zeros((0, 0)),
                final=ParticleMeasure(theta[e], mu.unit),
                meta={**meta, "member": e, "ensemble": mu.E},
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
    device: str | torch.device | None = None,
    threads: int | None = None,
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
    device: str | torch.device | None = None,
    threads: int | None = None,
    compile: bool | None = None,
    **overrides: Any,
) -> Trajectory | list[Trajectory]:
    """Run the particle flow from ``mu`` (n, p), or an :class:`Ensemble` (E, n, p) of flows; record it.

    ``objective``: an :class:`~wgflow.objectives.Objective`, for an ensemble an :class:`EnsembleRisk` or E
    sampled objectives. ``cfg``: a :class:`FlowConfig` (keyword ``overrides`` replace its fields); mu's dtype
    is the run's. ``seed`` / ``generator``, ``checkpointer``, ``device``, ``threads``, ``compile``: see the
    module docstring. ``probe``: (P, d) points where f is recorded at every snapshot;
    ``progress(total=, desc=)``: a bar with ``update(k)``; ``callback(step, mu, J)``: after every step.
    Returns a :class:`Trajectory` (an ensemble: a list of E). Raises :class:`DivergenceError` on NaN/Inf
    in the particles or the risk (suggesting a smaller eta).
    """
    cfg = dataclasses.replace(cfg or FlowConfig(), **overrides)
    mu, objective, generators = _placed(mu, objective, device, generator, seed)
    scheme = StepScheme(cfg, mu.unit, mu.theta)
    theta = scheme.project(mu.theta.detach().clone())
    if probe is not None:
        probe = probe.to(dtype=theta.dtype, device=theta.device)
    flow = _Flow(mu, objective, cfg, resolve_alpha(cfg.alpha, mu.n), probe, _snapshot_steps(cfg))
    if compile and not flow.ensemble:
        raise ConfigError("compile=True applies to ensembles: train Ensemble.stack([mu]) with [objective]")
    flow.compiled = compile_for(compile) and flow.ensemble  # use(compile=True): a run's ensembles only
    k, t, state = 0, 0.0, checkpointer.load() if checkpointer is not None else None
    if state is not None:
        theta, k, t = restore_flow_state(state, generators, theta.dtype, theta.device, flow.rec)
    plan = _thread_plan(objective, mu, threads, block_workers=not flow.compiled)  # torch.compile: not thread-safe
    E = f" x{mu.E}" if isinstance(mu, Ensemble) else ""
    bar = progress(total=cfg.steps, desc=f"flow n={mu.n}{E}") if progress else None
    if bar is not None and k:
        bar.update(k)
    intra, flow.workers = plan(scheme.batch(k))
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
    return flow.trajectories(theta, type(objective).__name__)


def _thread_plan(objective, mu, threads: int | None, block_workers: bool = True) -> Callable:
    """Batch size P -> (intra-op threads, block workers) from the work per step of the flow or whole ensemble."""
    ensemble = isinstance(mu, Ensemble)
    E = mu.E if ensemble else 1

    def plan(P: int | None) -> tuple[int, int]:
        work = _flops(objective, P, mu.n, mu.theta.shape[-1], E)
        if ensemble and block_workers and mu.theta.device.type == "cpu":  # whole member blocks on worker threads
            workers = threads_for(work, threads, per_thread=FLOPS_PER_WORKER)
            if workers > 1:
                return 1, workers
        return threads_for(work, threads), 1

    return plan


def _placed(mu, objective, device, generator, seed):
    """mu and the objective on the run's device, an ensemble's objectives as one EnsembleRisk, the generators."""
    ensemble = isinstance(mu, Ensemble)
    if ensemble and not isinstance(objective, EnsembleRisk):
        objective = EnsembleRisk(objective)
    if ensemble and len(objective) != mu.E:
        raise ValueError(f"ensemble of {mu.E} members but {len(objective)} member objectives")
    dev = resolve_device(device, mu.theta.device)
    if mu.theta.device != dev:
        mu = mu.with_theta(mu.theta.to(dev), check=False) if ensemble else mu.to(device=dev)
    return mu, objective, make_generators(dev, generator, seed, mu.E if ensemble else None)


def _snapshot_steps(cfg: FlowConfig) -> set[int]:
    if cfg.snapshot_steps:
        return {0, cfg.steps} | {int(s) for s in cfg.snapshot_steps if 0 <= int(s) <= cfg.steps}
    return {int(s) for s in snapshot_schedule(cfg.steps, cfg.n_snapshots, cfg.snapshot_spacing)}
