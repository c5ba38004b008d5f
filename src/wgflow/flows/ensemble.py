r"""Ensembles: E independent particle systems of one unit family trained as one tensor program.

An :class:`Ensemble` holds theta of shape (E, n, p): member e is the measure
mu^e = (1/n) sum_i delta_{theta^e_i}. The members do not interact; they differ by their
initialisation, their target or data set and their random stream. :class:`EnsembleRisk`
evaluates E sampled objectives (same loss, each member its own
:class:`~wgflow.objectives.OnlineRisk` or :class:`~wgflow.objectives.DatasetRisk`) with batched
matrix products, so one Python step advances all members (an objective type with a batched form of
its own, ``Objective.ensemble``, e.g. :class:`~wgflow.objectives.PopulationRisk`, uses it; any other
is evaluated member by member: correct, not faster):

    h^e_b = alpha sum_i a_i phi(x^e_b; theta^e_i),   G^e_i = sum_b r^e_b grad_theta phi(x^e_b; theta^e_i),
    r^e_b = l'(h^e_b, y^e_b) / (alpha B)

(the same G as the single flow, :mod:`wgflow.objectives`). The work is streamed over chunks
of the batch (h_b depends on sample b only), so the quench's large batches need bounded
memory. Member e draws its samples, minibatch indices and noise from its own generator in the
same order as a single :func:`wgflow.train` run would: an ensemble member reproduces the
single flow with that generator up to floating-point rounding (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from ..measure import ParticleMeasure
from ..objectives import DatasetRisk, Objective, OnlineRisk, _check_loss
from ..units import Unit
from .runtime import map_blocks

__all__ = ["Ensemble", "EnsembleRisk", "batched_forward", "batched_vjp", "block_step", "compiled_block_step"]

#: bytes of one (E, chunk, n) activation block of an evaluation (output, risk).
_BLOCK_BYTES = 16 * 2**20
#: bytes of one activation block of a training step on the CPU (about the L2 cache).
_STEP_BLOCK_BYTES = 2**20


@dataclass(frozen=True, eq=False)
class Ensemble:
    """E particle measures of one unit family and width: theta (E, n, p), uniform weights 1/n."""

    theta: torch.Tensor
    unit: Unit

    def __post_init__(self):
        if not isinstance(self.theta, torch.Tensor) or self.theta.ndim != 3:
            raise ValueError(
                f"Ensemble: theta must be a tensor of shape (E, n, p), got "
                f"{getattr(self.theta, 'shape', type(self.theta).__name__)}"
            )
        self.unit.check_theta(self.theta[0])
        if not torch.isfinite(self.theta).all():
            raise ValueError("particle positions theta contain NaN or Inf")

    @classmethod
    def stack(cls, measures: Sequence[ParticleMeasure]) -> Ensemble:
        """Stack measures of one unit family and width (uniform weights) into an ensemble."""
        if not measures:
            raise ValueError("Ensemble.stack: need at least one measure")
        unit = measures[0].unit
        for m in measures:
            if m.weights is not None:
                raise ValueError("Ensemble.stack: members must have uniform weights")
            if m.unit.spec() != unit.spec() or m.theta.shape != measures[0].theta.shape:
                raise ValueError(
                    "Ensemble.stack: members must share unit family, n and p (run other widths as separate ensembles)"
                )
        return cls(torch.stack([m.theta for m in measures]), unit)

    @property
    def E(self) -> int:
        return self.theta.shape[0]

    @property
    def n(self) -> int:
        return self.theta.shape[1]

    @property
    def p(self) -> int:
        return self.theta.shape[2]

    def member(self, e: int) -> ParticleMeasure:
        return ParticleMeasure(self.theta[e], self.unit)

    def member_fast(self, e: int) -> ParticleMeasure:
        """Member e without validation (hot paths; a view of theta)."""
        return _unchecked(self.theta[e], self.unit)

    def with_theta(self, theta: torch.Tensor, check: bool = True) -> Ensemble:
        if check:
            return Ensemble(theta, self.unit)
        out = object.__new__(Ensemble)
        object.__setattr__(out, "theta", theta)
        object.__setattr__(out, "unit", self.unit)
        return out

    def output(self, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """f_{mu^e}(x^e_b), shape (E, B); x (B, d) is shared by all members, or (E, B, d)."""
        x = x.to(self.theta.dtype)
        if x.ndim == 2:
            x = x.expand(self.E, *x.shape)
        v = torch.full((self.n,), 1.0 / self.n, dtype=self.theta.dtype, device=self.theta.device)
        if (
            self.theta.device.type == "cpu"
            and x.shape[1] * self.E * self.n * self.theta.element_size() > _STEP_BLOCK_BYTES
        ):  # member by member, each streamed in 2-D blocks: the (E, chunk, n) batched products of 16 MiB were
            # 6x slower (n = 1024, B = 2000, E = 10: 160 ms against 29 ms)
            return torch.stack([self.member_fast(e).output(x[e], alpha) for e in range(self.E)])
        cs = _chunk(self.E, self.n, self.theta.element_size(), x.shape[1])
        out = [batched_forward(self.unit, x[:, s : s + cs], self.theta, v)[0] for s in range(0, x.shape[1], cs)]
        return alpha * torch.cat(out, dim=1)

    def __repr__(self) -> str:
        return f"Ensemble(E={self.E}, n={self.n}, p={self.p}, unit={self.unit!r}, dtype={self.theta.dtype})"


def _unchecked(theta: torch.Tensor, unit: Unit) -> ParticleMeasure:
    out = object.__new__(ParticleMeasure)
    object.__setattr__(out, "theta", theta)
    object.__setattr__(out, "unit", unit)
    object.__setattr__(out, "weights", None)
    return out


def _chunk(E: int, n: int, itemsize: int, B: int) -> int:
    return int(max(1, min(B, _BLOCK_BYTES // (E * n * itemsize))))


def _blocks(E: int, n: int, theta: torch.Tensor, B: int) -> tuple[int, int]:
    """(members, samples) per block of a step: an (members, samples, n) block of ~``_STEP_BLOCK_BYTES``.

    Several passes run over each activation block (z, h, h', r h'), so blocks that stay in cache beat
    one large batched block (measured: n = 1024, B = 204, E = 10 as one 8 MiB block was 2x slower than
    the ten members one after the other). On a GPU the whole ensemble is one block.
    """
    if theta.device.type != "cpu":
        return E, B
    rows = max(1, _STEP_BLOCK_BYTES // (n * theta.element_size()))  # (sample, particle-row) budget
    if rows >= B:
        return max(1, min(E, rows // B)), B
    return 1, rows


# ----------------------------------------------------------------------------- batched units
def batched_forward(unit: Unit, x: torch.Tensor, theta: torch.Tensor, v: torch.Tensor):
    """sum_i v_i phi(x^e_b; theta^e_i) (E, B) and a cache for :func:`batched_vjp` (the unit's batched kernel)."""
    return unit.forward(x, theta, v)


def batched_vjp(unit: Unit, x: torch.Tensor, theta: torch.Tensor, r: torch.Tensor, cache) -> torch.Tensor:
    """sum_b r^e_b grad_theta phi(x^e_b; theta^e_i), shape (E, n, p) (the unit's batched kernel)."""
    return unit.vjp(x, theta, r, cache)


def block_step(unit: Unit, lfn, xb: torch.Tensor, yb: torch.Tensor, th: torch.Tensor, v: torch.Tensor, alpha, B):
    """Loss values (m, b) and gradient (m, n, p) of one block: members th (m, n, p), samples xb (m, b, d), yb (m, b).

    ``lfn`` is the loss (:data:`wgflow.objectives.LOSSES`), B the whole batch (r = l'(h, y) / (alpha B)).
    """
    if th.shape[0] == 1:  # the unit's 2-D kernels: faster on the CPU than a batched matmul of batch size 1
        h, cache = unit.forward(xb[0], th[0], v)
        val, dl = lfn(alpha * h, yb[0])
        return val[None], unit.vjp(xb[0], th[0], dl / (alpha * B), cache)[None]
    h, cache = batched_forward(unit, xb, th, v)
    val, dl = lfn(alpha * h, yb)
    return val, batched_vjp(unit, xb, th, dl / (alpha * B), cache)


@functools.cache
def compiled_block_step() -> Callable:
    """:func:`block_step` under ``torch.compile`` (inductor, compiled on first use per block shape and unit).

    Measured (RVE sigmoid, d = 10, E = 10, float32, one thread, loaded 2-core machine): one block at
    n = 32 took 0.20 ms compiled vs 0.53 ms eager, at n = 256 1.4 vs 2.7 ms; whole runs of
    benchmarks/bench_ensemble.py were 0.75-1.3x as fast (two runs, n = 32 ... 1024). Compiling took
    20-40 s for a first shape; later shapes reuse a dynamic-shape compilation.
    """
    return torch.compile(block_step)


def _stack_targets(targets):
    """A batched target (E, B, d) -> (E, B) when every member's target is of one type with ``stack``."""
    kind = type(targets[0])
    if all(type(t) is kind for t in targets) and hasattr(kind, "stack"):
        return kind.stack(targets)

    def member_by_member(x):
        return torch.stack([t(x[e]) for e, t in enumerate(targets)])

    return member_by_member


class EnsembleRisk:
    """E sampled objectives of one loss as one batched objective (member e: ``members[e]``).

    Online members draw ``batch_size`` fresh samples each from their own generator; data-set members
    draw minibatch indices (``batch_size=None``: the full data set, which must have one size for all).
    ``risk`` returns the (E,) evaluation risks on each member's own test sample or data set.
    """

    def __init__(self, members: Sequence[Objective]):
        members = list(members)
        if not members:
            raise ValueError("EnsembleRisk: need at least one member objective")
        kind = type(members[0])
        if any(type(m) is not kind for m in members):
            raise ValueError("EnsembleRisk: members must all be objectives of one type (e.g. all OnlineRisk)")
        if len({m.loss for m in members}) != 1:
            raise ValueError("EnsembleRisk: members must share one loss")
        self.members: list[Any] = members  # all of one kind: OnlineRisk / DatasetRisk attributes are read by kind
        self.kind, self.loss = kind, members[0].loss
        self._lfn = _check_loss(self.loss) if kind in (OnlineRisk, DatasetRisk) else None  # others: their own loss
        targets = [cast(OnlineRisk, m).target for m in members] if kind is OnlineRisk else None
        self._target = _stack_targets(targets) if targets is not None else None
        self._joint = kind.ensemble(members)  # e.g. PopulationRisk: its own batched evaluation (or None)
        self._cache: dict = {}

    def __len__(self) -> int:
        return len(self.members)

    def _fixed(self, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked evaluation samples (E, T, d), (E, T): test sets (online) or data sets."""
        key = (dtype, str(device))
        if key not in self._cache:
            if self.kind is OnlineRisk:
                pairs = [m.test_set(dtype) for m in self.members]
            else:
                pairs = [(m.x, m.y) for m in self.members]
            if len({p[0].shape for p in pairs}) != 1:
                raise ValueError("EnsembleRisk: every member needs a test sample / data set of the same size")
            self._cache[key] = tuple(torch.stack([p[i] for p in pairs]).to(dtype=dtype, device=device) for i in (0, 1))
        return self._cache[key]

    def sample(self, batch_size: int | None, generators: Sequence[torch.Generator], dtype, device):
        """The step's samples x (E, B, d), y (E, B): each member from its own generator."""
        if batch_size is None:
            return self._fixed(dtype, device)
        if self.kind is OnlineRisk:
            return self._draw(int(batch_size), generators, dtype, device)
        X, Y = self._fixed(dtype, device)
        if batch_size >= X.shape[1]:  # as DatasetRisk: a batch as large as the data set is full batch
            return X, Y
        idx = torch.stack(
            [torch.randint(0, X.shape[1], (int(batch_size),), generator=g, device=device) for g in generators]
        )
        rows = torch.arange(X.shape[0], device=device)[:, None]
        return X[rows, idx], Y[rows, idx]

    def _draw(self, B: int, generators, dtype, device):
        """Fresh samples of every member. Gaussian and sphere samplers (:mod:`wgflow.tasks.teacher`) draw each
        member's N(0, I) block from its generator and are normalised in one batched operation (the numbers
        of member-by-member sampling); other samplers are called member by member."""
        if "laws" not in self._cache:  # once: a set comprehension per step was 15% of a small ensemble's step
            self._cache["laws"] = {
                tuple(getattr(m.sampler, a, None) for a in ("law", "d", "radius")) for m in self.members
            }
        laws: set[tuple[Any, ...]] = self._cache["laws"]
        kw = {} if device.type == "cpu" else {"device": device}
        law, d, radius = next(iter(laws))
        if len(laws) == 1 and (law == "gaussian" or (law == "sphere" and radius is not None)):
            x = torch.stack([torch.randn(B, d, generator=g, dtype=dtype, **kw) for g in generators])
            if law == "sphere":
                x = radius * x / x.norm(dim=-1, keepdim=True)
        else:
            x = torch.stack([m.sampler(B, generator=g, dtype=dtype, **kw) for m, g in zip(self.members, generators)])
        assert self._target is not None  # fresh samples are drawn for OnlineRisk members only
        return x, self._target(x).to(dtype)

    @property
    def batched(self) -> bool:
        """Sampled objectives and those with a batched form (``Objective.ensemble``) are evaluated as one
        batched computation; others member by member."""
        return self.kind in (OnlineRisk, DatasetRisk) or self._joint is not None

    def value_and_grad(
        self, ens: Ensemble, alpha: float, batch_size=None, generators=(), workers: int = 1, compiled: bool = False
    ):
        """J (E,) tensor (= (1/alpha^2) mean loss of each member's sample) and G (E, n, p).

        ``workers`` > 1 computes the member blocks on that many threads (:func:`~wgflow.flows.runtime.map_blocks`);
        ``compiled``: each block by :func:`compiled_block_step`. Objectives with their own batched form
        (``Objective.ensemble``, e.g. PopulationRisk) evaluate themselves.
        """
        if self._joint is not None:
            return self._joint.value_and_grad(ens, alpha, batch_size, generators)
        if not self.batched:  # e.g. SmoothMargin: correct, one member at a time
            out = [
                m.value_and_grad(ens.member_fast(e), alpha, batch_size=batch_size, generator=g)
                for e, (m, g) in enumerate(zip(self.members, generators or [None] * len(self)))
            ]
            return torch.tensor([o[0] for o in out], dtype=torch.float64), torch.stack([o[1] for o in out])
        theta = ens.theta
        x, y = self.sample(batch_size, generators, theta.dtype, theta.device)
        E, B = y.shape
        v = torch.full((ens.n,), 1.0 / ens.n, dtype=theta.dtype, device=theta.device)
        me, cs = _blocks(E, ens.n, theta, B)
        step = compiled_block_step() if compiled else block_step

        def members(e: int):  # blocks of members x samples that stay in cache
            th, J, G = theta[e : e + me], None, None
            for s in range(0, B, cs):
                xb, yb = x[e : e + me, s : s + cs], y[e : e + me, s : s + cs]
                val, g = step(ens.unit, self._lfn, xb, yb, th, v, alpha, B)
                J, G = (val.sum(1), g) if G is None else (J + val.sum(1), G + g)
            assert J is not None and G is not None  # B >= 1: every member block has a sample chunk
            return J, G

        out = map_blocks(members, range(0, E, me), workers)
        J, G = out[0] if len(out) == 1 else (torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out]))
        return J / (B * alpha**2), G

    def risk(self, ens: Ensemble, alpha: float = 1.0) -> np.ndarray:
        """(E,) evaluation risks E l(alpha f_mu^e(x), y) on each member's fixed sample."""
        if self._joint is not None:
            return self._joint.risk(ens, alpha)
        if not self.batched:
            return np.array([m.risk(ens.member_fast(e), alpha) for e, m in enumerate(self.members)], dtype=float)
        X, Y = self._fixed(ens.theta.dtype, ens.theta.device)
        with torch.no_grad():
            h = ens.output(X, alpha)
        assert self._lfn is not None  # batched without a joint form: OnlineRisk / DatasetRisk, which have a loss
        return self._lfn(h, Y)[0].mean(1).double().cpu().numpy()
