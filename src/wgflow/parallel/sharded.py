r"""Particle flows whose particles are sharded across processes (torch.distributed).

The network output is a sum over particles, so it splits over P ranks::

    f_mu(x) = alpha sum_i a_i phi(x; theta_i) = sum_r [ alpha sum_{i in I_r} a_i phi(x; theta_i) ],

and the velocity of particle i, G_i = sum_b r_b grad_theta phi(x_b; theta_i) with
r_b = l'(f(x_b), y_b) / (alpha B), needs only f on the batch, not the other particles.
One step therefore costs **one all-reduce of the length-B output vector**: every rank
computes its partial sum on the same batch, the partial sums are added (``all_reduce``),
and every rank moves its own particles with no further communication (the mean-field
particle system of Mei, Montanari & Nguyen 2018, eq. 6, computed in P pieces).

:class:`ShardedObjective` wraps a sampled objective (:class:`~wgflow.objectives.DatasetRisk`
or :class:`~wgflow.objectives.OnlineRisk`) so that :func:`wgflow.train` — still the only
training loop — run on every rank with its local shard reproduces the single-process
trajectory up to rounding. Randomness:

* minibatches come from a generator seeded identically on every rank (``batch_seed``), so
  all ranks see the same batch, and it is the batch sequence of a single-process
  ``train(..., seed=batch_seed)`` without noise;
* Langevin noise xi_i is drawn per particle from a per-rank generator (:func:`noise_generator`):
  independent across particles, so the law of the flow is right, but not the single
  process's numbers (those would need every rank to draw all n p normals);
* the initial particles come from :func:`init_particles`, whose draws are made in fixed
  blocks of particles, so the initial measure does not depend on P.

The exact :class:`~wgflow.objectives.PopulationRisk` needs all particle pairs, not an
output vector, and is not sharded. Snapshots are gathered to one rank by
:func:`gather_rows` (rank by rank into a preallocated array, optionally a subsample), so
the whole measure is never held twice. Launch with ``torchrun`` (:mod:`wgflow.cli.launch`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..flows import FlowConfig, resolve_alpha, train
from ..flows.trajectory import Trajectory
from ..measures.measure import ParticleMeasure
from ..objectives.risks import Objective, PopulationRisk

__all__ = [
    "shard_range",
    "init_particles",
    "noise_generator",
    "ShardedObjective",
    "train_sharded",
    "gather_rows",
    "tracked_w2_sharded",
    "world",
]

#: particles per independently seeded block of :func:`init_particles` (the init is the same for every P)
INIT_BLOCK = 1 << 16


def world(group=None) -> tuple[int, int]:
    """(rank, world size) in ``group``; (0, 1) when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group), dist.get_world_size(group)
    return 0, 1


def shard_range(n: int, P: int, rank: int) -> tuple[int, int]:
    """Rows [start, stop) of rank ``rank`` when n particles are split over P ranks.

    Balanced: the first ``n % P`` ranks hold one particle more, so any n >= P works.
    """
    if not (0 <= rank < P) or n < P:
        raise ValueError(f"cannot split n = {n} particles over P = {P} ranks (rank {rank}); need n >= P")
    q, m = divmod(n, P)
    start = rank * q + min(rank, m)
    return start, start + q + (rank < m)


def init_particles(
    unit, n: int, start: int, stop: int, *, seed: int = 0, dtype=torch.float64, device="cpu", **init_kw: Any
) -> torch.Tensor:
    """Rows [start, stop) of an i.i.d. initial measure of n particles, shape (stop - start, p).

    Block b of ``INIT_BLOCK`` particles is drawn by ``unit.init`` from a generator seeded with
    ``(seed, b)``, so a rank draws only the (at most two partial) blocks it overlaps and the
    concatenation over ranks is the same measure for every P.
    """
    if not 0 <= start < stop <= n:
        raise ValueError(f"bad particle range [{start}, {stop}) for n = {n}")
    parts = []
    for b in range(start // INIT_BLOCK, (stop - 1) // INIT_BLOCK + 1):
        lo, hi = b * INIT_BLOCK, min(n, (b + 1) * INIT_BLOCK)
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + b)
        blk = unit.init(hi - lo, generator=g, dtype=dtype, **init_kw)  # (hi - lo, p)
        parts.append(blk[max(start, lo) - lo : min(stop, hi) - lo])
    return torch.cat(parts).to(device)


def noise_generator(seed: int, rank: int) -> torch.Generator:
    """Per-rank generator of Langevin noise: independent streams for the particles of different ranks."""
    return torch.Generator().manual_seed((int(seed) + 1) * 7_919 + 104_729 * (rank + 1))


class ShardedObjective(Objective):
    """A sampled objective evaluated on this rank's particles, summed over ranks by one all-reduce.

    Parameters
    ----------
    objective : :class:`~wgflow.objectives.DatasetRisk`, :class:`~wgflow.objectives.OnlineRisk`, or any
        objective whose ``risk`` and ``value_and_grad`` take the ``reduce=`` hook of the output.
    mass : sum of the *global* weights of this rank's particles (n_r / n for uniform weights);
        the local measure carries weights normalised on the rank, and its output is scaled by
        ``mass`` before the all-reduce, so h = sum_r mass_r f_{mu_r} = f_mu.
    batch_seed : seed of the minibatch generator, the same on every rank.
    group : process group (default: the world).

    ``comm_seconds`` accumulates the time spent in all-reduces (for benchmarks).
    """

    def __init__(self, objective: Objective, *, mass: float, batch_seed: int = 0, group=None):
        takes_reduce = all(
            "reduce" in inspect.signature(getattr(objective, m)).parameters for m in ("risk", "value_and_grad")
        )
        if isinstance(objective, PopulationRisk) or not takes_reduce:
            raise TypeError(
                f"{type(objective).__name__} cannot be sharded: only sampled objectives (DatasetRisk, "
                "OnlineRisk) reduce to one all-reduce of the output on the batch"
            )
        self.objective: Any = objective  # a sampled risk: its risk and value_and_grad take ``reduce``
        self.mass, self.group = float(mass), group
        self.loss = objective.loss
        self.batch_generator = torch.Generator().manual_seed(int(batch_seed))
        self.comm_seconds, self.n_reduce = 0.0, 0

    def _reduce(self, h: torch.Tensor) -> torch.Tensor:  # (B,) partial output -> (B,) full output
        h = h * self.mass
        if world(self.group)[1] > 1:
            t0 = time.perf_counter()
            dist.all_reduce(h, op=dist.ReduceOp.SUM, group=self.group)
            self.comm_seconds += time.perf_counter() - t0
            self.n_reduce += 1
        return h

    def risk(self, mu, alpha=1.0):
        return self.objective.risk(mu, alpha, reduce=self._reduce)

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        # ``generator`` (train's) is left to the noise: batches must be the same on every rank
        return self.objective.value_and_grad(mu, alpha, batch_size, self.batch_generator, reduce=self._reduce)

    def V(self, theta, mu, alpha=1.0):
        raise NotImplementedError("V of a sharded measure needs all ranks; evaluate it on gathered particles")


def gather_rows(
    local: np.ndarray, n: int | None = None, *, dst: int = 0, max_rows: int | None = None, group=None, device=None
) -> np.ndarray | None:
    """Concatenate the row blocks of all ranks, in rank order, on rank ``dst`` (None elsewhere).

    ``local`` is (..., n_r, p) — one particle block or a stack of snapshots. Rank ``dst``
    allocates the result once and receives every rank's block straight into its slice (point
    to point, so blocks may differ in size), so the measure is never held twice. With
    ``max_rows`` every rank sends only its first ceil(max_rows n_r / n) particles: particles are
    i.i.d. at initialisation, so a prefix of each shard is a uniform subsample of the measure.
    ``device``: where blocks travel (a CUDA device under NCCL).
    """
    rank, P = world(group)
    local = np.ascontiguousarray(local)
    n_r = local.shape[-2]
    counts = torch.tensor([n_r], dtype=torch.int64)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(P)]
    if P > 1:
        if device is not None:
            counts, sizes = counts.to(device), [s.to(device) for s in sizes]
        dist.all_gather(sizes, counts, group=group)
    else:
        sizes = [counts]
    rows = [int(s) for s in sizes]  # n_r of every rank
    n = n or sum(rows)
    keep = [s if max_rows is None else min(s, math.ceil(max_rows * s / n)) for s in rows]
    mine = local[..., : keep[rank], :]
    if rank != dst:
        dist.send(_tensor(np.ascontiguousarray(mine), device), dst=dst, group=group)
        return None
    out = np.empty((*local.shape[:-2], sum(keep), local.shape[-1]), dtype=local.dtype)  # (..., m, p)
    offsets = np.concatenate([[0], np.cumsum(keep)])
    for r in range(P):
        sl = out[..., offsets[r] : offsets[r + 1], :]
        if r == rank:
            sl[...] = mine
            continue
        buf = torch.empty(sl.shape, dtype=torch.from_numpy(mine[..., :0, :]).dtype, device=device)
        dist.recv(buf, src=r, group=group)
        sl[...] = buf.cpu().numpy()
    return out


def _tensor(a: np.ndarray, device) -> torch.Tensor:
    t = torch.from_numpy(a)
    return t if device is None else t.to(device)


def train_sharded(
    theta_local: torch.Tensor,
    unit,
    objective: Objective,
    cfg: FlowConfig,
    *,
    n: int | None = None,
    seed: int = 0,
    dst: int = 0,
    max_particles: int | None = None,
    group=None,
    progress=None,
) -> tuple[Trajectory | None, dict[str, float]]:
    """Run :func:`wgflow.train` on this rank's particles and gather the trajectory on rank ``dst``.

    Parameters
    ----------
    theta_local : (n_r, p) this rank's particles (e.g. ``theta0[slice(*shard_range(n, P, rank))]``
        or :func:`init_particles`); uniform global weights 1/n.
    objective : a sampled objective, built identically on every rank.
    n : total number of particles (default: the sum of the shards, one all-reduce).
    seed : minibatch seed (shared) and noise seed (made per rank by :func:`noise_generator`).
    max_particles : gather at most about this many particles per snapshot (a uniform subsample).

    Returns
    -------
    (trajectory, stats): the trajectory (snapshots (S, n or ~max_particles, p), risk
    curve, final measure) on rank ``dst`` and None elsewhere; ``stats`` holds this rank's
    seconds in the flow (``train_s``), in its all-reduces (``comm_s``, ``n_reduce`` calls) and in
    the gathers (``gather_s``), and the exact tracked bound on W2(mu_T, mu_0) (``tracked_w2``). A probe is not supported (its output would be partial); W2
    diagnostics are computed on the gathered snapshots or by :func:`tracked_w2_sharded`.
    """
    rank, P = world(group)
    n_r = theta_local.shape[0]
    if n is None:
        t = torch.tensor([n_r], dtype=torch.int64, device=theta_local.device)
        if P > 1:
            dist.all_reduce(t, group=group)
        n = int(t)
    cfg = dataclasses.replace(cfg, alpha=resolve_alpha(cfg.alpha, n))  # "ntk": sqrt of the *global* width
    obj = ShardedObjective(objective, mass=n_r / n, batch_seed=seed, group=group)
    t0 = time.perf_counter()
    traj = train(ParticleMeasure(theta_local, unit), obj, cfg, generator=noise_generator(seed, rank), progress=progress)
    t1 = time.perf_counter()
    bound = tracked_w2_sharded(traj.final.theta, theta_local, n, group)
    device = theta_local.device if theta_local.device.type == "cuda" else None
    snaps = gather_rows(traj.snapshots, n, dst=dst, max_rows=max_particles, group=group, device=device)
    final = gather_rows(traj.final.numpy(), n, dst=dst, max_rows=max_particles, group=group, device=device)
    stats = {
        "train_s": t1 - t0,
        "comm_s": obj.comm_seconds,
        "n_reduce": obj.n_reduce,
        "gather_s": time.perf_counter() - t1,
        "n_local": n_r,
        "tracked_w2": bound,
    }
    if rank != dst:
        return None, stats
    assert snaps is not None and final is not None  # rank dst receives the gathered rows
    return _gathered(traj, snaps, final, unit, n, P, objective), stats


def _gathered(traj: Trajectory, snaps: np.ndarray, final: np.ndarray, unit, n: int, P: int, objective) -> Trajectory:
    """This rank's recording (risk curve and times are the same on every rank) with the gathered particles."""
    meta = {
        **traj.meta,
        "n": n,
        "world_size": P,
        "gathered": int(final.shape[0]),
        "objective": f"Sharded({type(objective).__name__})",
    }
    return dataclasses.replace(traj, snapshots=snaps, final=ParticleMeasure(torch.from_numpy(final), unit), meta=meta)


def tracked_w2_sharded(theta: torch.Tensor, theta0: torch.Tensor, n: int, group=None) -> float:
    r"""Exact tracked-particle bound sqrt((1/n) sum_i |theta_i - theta0_i|^2) over all ranks (one scalar all-reduce).

    An upper bound of W2(mu, mu_0) (identity coupling), computed without gathering any particle.
    """
    s = ((theta - theta0) ** 2).sum().reshape(1)
    if world(group)[1] > 1:
        dist.all_reduce(s, group=group)
    return math.sqrt(float(s) / n)
