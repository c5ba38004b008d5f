r"""Particle measures: a two-layer network seen as the empirical law of its units.

    mu_n = sum_i a_i delta_{theta_i}   (a_i = 1/n by default),
    f_mu(x) = alpha * sum_i a_i phi(x; theta_i).

With alpha = 1 this is the mean-field network f = (1/n) sum_i phi(x; theta_i). An :class:`Ensemble`
holds E measures of one unit family and width, theta (E, n, p); a :class:`ParticleMeasure` is the
ensemble of one that :meth:`Ensemble.of` views it as.

Evaluations stream over blocks whose sizes :mod:`wgflow.measures.blocks` decides
(:func:`two_pass`, :func:`sampled_value_and_grad`).
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from . import blocks as policy
from .blocks import chunk_size, eval_samples, map_blocks, step_blocks
from .units import Unit

__all__ = [
    "ParticleMeasure",
    "Ensemble",
    "chunk_size",
    "step_blocks",
    "map_blocks",
    "sampled_value_and_grad",
    "two_pass",
]


@dataclass(frozen=True, eq=False)
class ParticleMeasure:
    """Weighted particles theta (n, p) of a unit family.

    Parameters
    ----------
    theta : (n, p) tensor of particle positions (column 0 = output weight c).
    unit : the :class:`~wgflow.measures.units.Unit` giving them meaning.
    weights : optional (n,) non-negative weights summing to 1 (uniform if None).
    """

    theta: torch.Tensor
    unit: Unit
    weights: torch.Tensor | None = None

    def __post_init__(self):
        self.unit.check_theta(self.theta)
        if not torch.isfinite(self.theta).all():
            raise ValueError("particle positions theta contain NaN or Inf")
        if self.weights is not None:
            w = self.weights
            if w.shape != (self.theta.shape[0],):
                raise ValueError(f"weights must have shape ({self.theta.shape[0]},), got {tuple(w.shape)}")
            if (w < 0).any() or not torch.isfinite(w).all():
                raise ValueError("weights must be finite and non-negative")
            if not math.isclose(float(w.sum()), 1.0, rel_tol=1e-6):
                raise ValueError(f"weights must sum to 1, got {float(w.sum()):.6g}")

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        return self.theta.shape[0]

    @property
    def p(self) -> int:
        return self.theta.shape[1]

    @property
    def a(self) -> torch.Tensor:
        """Weights a_i (n,), uniform 1/n when none were given."""
        if self.weights is None:
            return torch.full((self.n,), 1.0 / self.n, dtype=self.theta.dtype, device=self.theta.device)
        return self.weights

    def with_theta(self, theta: torch.Tensor, check: bool = True) -> ParticleMeasure:
        """Same unit and weights, new positions (``check=False`` skips validation on hot paths)."""
        if check:
            return ParticleMeasure(theta, self.unit, self.weights)
        return _unchecked(ParticleMeasure, theta, self.unit, self.weights)

    def numpy(self) -> np.ndarray:
        return self.theta.detach().cpu().numpy()

    def to(self, *args, **kwargs) -> ParticleMeasure:
        """Positions and weights moved or cast as ``torch.Tensor.to`` moves them: ``mu.to("cuda")``,
        ``mu.to(torch.float32)``, ``mu.to("cpu", torch.float64)``, ``mu.to(device=..., dtype=...)``."""
        w = None if self.weights is None else self.weights.to(*args, **kwargs)
        return ParticleMeasure(self.theta.to(*args, **kwargs), self.unit, w)

    # ------------------------------------------------------------------ network
    def output(self, x: torch.Tensor, alpha: float = 1.0, memory_budget: int | None = None) -> torch.Tensor:
        r"""f_mu(x) = alpha * sum_i a_i phi(x; theta_i), shape (B,). Streams over particle blocks."""
        x = x.to(self.theta.dtype)
        a = self.a
        cs = chunk_size(x.shape[0], self.n, self.theta.dtype, memory_budget)
        f = torch.zeros(x.shape[0], dtype=self.theta.dtype, device=self.theta.device)
        for s in range(0, self.n, cs):
            f = f + self.unit.forward(x, self.theta[s : s + cs], a[s : s + cs])[0]
        return alpha * f

    __call__ = output

    def __repr__(self) -> str:
        weights = "uniform" if self.weights is None else "given"
        return (
            f"ParticleMeasure(n={self.n}, p={self.p}, unit={self.unit!r}, dtype={self.theta.dtype}, "
            f"device={self.theta.device}, weights={weights})"
        )

    @property
    def device(self) -> torch.device:
        """Device of the positions theta (and of the weights)."""
        return self.theta.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point type of the positions theta."""
        return self.theta.dtype

    def _repr_html_(self) -> str:
        """Notebook summary: the repr's fields and the range of c (column 0) and of |theta_{1:}| over the particles."""
        t = self.theta.detach().double().cpu()
        c, rest = t[:, 0], t[:, 1:].norm(dim=1)  # (n,), (n,)
        rows = {
            "particles": f"n = {self.n}, p = {self.p}",
            "unit": html.escape(repr(self.unit)),
            "dtype, device": f"{self.theta.dtype}, {self.theta.device}",
            "weights": "uniform 1/n" if self.weights is None else "given",
            "c (column 0)": f"{float(c.min()):.3g} … {float(c.max()):.3g}, mean {float(c.mean()):.3g}",
            "norm of columns 1…p-1": f"{float(rest.min()):.3g} … {float(rest.max()):.3g}",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows.items()
        )
        return f"<b>ParticleMeasure</b><table>{body}</table>"


@dataclass(frozen=True, eq=False)
class Ensemble:
    """E particle measures of one unit family and width: theta (E, n, p), weights (E, n) (None: uniform 1/n)."""

    theta: torch.Tensor
    unit: Unit
    weights: torch.Tensor | None = None

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
    def stack(cls, measures) -> Ensemble:
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

    @classmethod
    def of(cls, mu: ParticleMeasure | Ensemble) -> Ensemble:
        """``mu`` itself if it is an ensemble, else the ensemble of one of a measure (a view of its theta)."""
        if isinstance(mu, Ensemble):
            return mu
        w = None if mu.weights is None else mu.weights[None]
        return _unchecked(cls, mu.theta[None], mu.unit, w)

    @property
    def E(self) -> int:
        return self.theta.shape[0]

    @property
    def n(self) -> int:
        return self.theta.shape[1]

    @property
    def p(self) -> int:
        return self.theta.shape[2]

    @property
    def a(self) -> torch.Tensor:
        """Weights a^e_i: (n,) uniform 1/n shared by the members, or the members' own (E, n)."""
        if self.weights is None:
            return torch.full((self.n,), 1.0 / self.n, dtype=self.theta.dtype, device=self.theta.device)
        return self.weights

    def member(self, e: int) -> ParticleMeasure:
        return ParticleMeasure(self.theta[e], self.unit, None if self.weights is None else self.weights[e])

    def member_fast(self, e: int) -> ParticleMeasure:
        """Member e without validation (hot paths; a view of theta)."""
        return _unchecked(ParticleMeasure, self.theta[e], self.unit, None if self.weights is None else self.weights[e])

    def with_theta(self, theta: torch.Tensor, check: bool = True) -> Ensemble:
        if check:
            return Ensemble(theta, self.unit, self.weights)
        return _unchecked(Ensemble, theta, self.unit, self.weights)

    def output(self, x: torch.Tensor, alpha: float = 1.0, memory_budget: int | None = None) -> torch.Tensor:
        """f_{mu^e}(x^e_b), shape (E, B); x (B, d) is shared by all members, or (E, B, d)."""
        x = x.to(self.theta.dtype)
        if x.ndim == 2:
            x = x.expand(self.E, *x.shape)
        size = x.shape[1] * self.E * self.n * self.theta.element_size()
        if self.E == 1 or (self.theta.device.type == "cpu" and size > policy.STEP_BLOCK_BYTES):
            # member by member, each streamed in 2-D particle blocks: on the CPU, batched (E, chunk, n) products
            # larger than the cache are slower than one member's blocks (benchmarks/bench_ensemble.py)
            return torch.stack([self.member_fast(e).output(x[e], alpha, memory_budget) for e in range(self.E)])
        cs = eval_samples(self.E, self.n, self.theta.element_size(), x.shape[1])
        out = [self.unit.forward(x[:, s : s + cs], self.theta, self.a)[0] for s in range(0, x.shape[1], cs)]
        return alpha * torch.cat(out, dim=1)

    def __repr__(self) -> str:
        return f"Ensemble(E={self.E}, n={self.n}, p={self.p}, unit={self.unit!r}, dtype={self.theta.dtype})"


def _unchecked(cls, theta: torch.Tensor, unit: Unit, weights: torch.Tensor | None):
    """A ParticleMeasure or Ensemble without validation (hot paths)."""
    out = object.__new__(cls)
    object.__setattr__(out, "theta", theta)
    object.__setattr__(out, "unit", unit)
    object.__setattr__(out, "weights", weights)
    return out


# ----------------------------------------------------------------------------- streamed evaluation
def two_pass(ens: Ensemble, x: torch.Tensor, loss: Callable, budget: int | None = None, grad: bool = True):
    """J (E,) and G (E, n, p) (None unless ``grad``) of a loss of the outputs, in two passes over particle blocks.

    Pass 1: h^e_b = sum_i a^e_i phi(x^e_b; theta^e_i) (E, B) for x (E, B, d); ``loss(h) -> (J (E,), r (E, B))``;
    pass 2: G^e_i = sum_b r^e_b grad_theta phi(x^e_b; theta^e_i). The blocks' activations are kept between the
    passes only while they fit in ``budget``; otherwise they are recomputed (one extra matmul per block).
    One member runs on 2-D views (the units' matrix-vector kernels).
    """
    theta, a, one = ens.theta.detach(), ens.a, ens.E == 1
    if one:
        theta, a, x = theta[0], a if a.ndim == 1 else a[0], x[0]
    B, n = x.shape[-2], ens.n
    cs = chunk_size(B * ens.E, n, theta.dtype, budget)
    keep = ens.E * B * n * theta.element_size() <= (policy.DEFAULT_MEMORY_BUDGET if budget is None else budget)
    blocks = range(0, n, cs)
    with torch.no_grad():
        h = torch.zeros(x.shape[:-1], dtype=theta.dtype, device=theta.device)
        caches = []
        for s in blocks:
            part, cache = ens.unit.forward(x, theta[..., s : s + cs, :], a[..., s : s + cs])
            h += part
            caches.append(cache if keep else None)
        J, r = loss(h[None] if one else h)
        if not grad:
            return J, None
        r = r[0] if one else r
        G = torch.cat([ens.unit.vjp(x, theta[..., s : s + cs, :], r, c) for s, c in zip(blocks, caches)], dim=-2)
    return J, G[None] if one else G


def block_step(unit: Unit, lfn, xb: torch.Tensor, yb: torch.Tensor, th: torch.Tensor, v: torch.Tensor, alpha, B):
    """Loss values (m, b) and gradient (m, n, p) of one block: members th (m, n, p), samples xb (m, b, d), yb (m, b).

    ``lfn`` is the loss (:data:`wgflow.objectives.LOSSES`), v the weights (n,) or (m, n), B the whole batch
    (r = l'(h, y) / (alpha B)). One member runs on 2-D views (the units' matrix-vector kernels).
    """
    if th.shape[0] == 1:
        v = v if v.ndim == 1 else v[0]
        h, cache = unit.forward(xb[0], th[0], v)
        val, dl = lfn(alpha * h, yb[0])
        return val[None], unit.vjp(xb[0], th[0], dl / (alpha * B), cache)[None]
    h, cache = unit.forward(xb, th, v)
    val, dl = lfn(alpha * h, yb)
    return val, unit.vjp(xb, th, dl / (alpha * B), cache)


@functools.cache
def compiled_block_step() -> Callable:
    """:func:`block_step` under ``torch.compile`` (inductor, compiled on first use per block shape and unit)."""
    return torch.compile(block_step)


def sampled_value_and_grad(
    ens: Ensemble, x, y, lfn, alpha: float, *, budget=None, reduce=None, workers=1, compiled=False
):
    r"""J^e = (1/alpha^2) mean_b l(h^e_b, y^e_b) (E,) and G^e_i = sum_b r^e_b grad_theta phi(x^e_b; theta^e_i) (E, n, p).

    h^e_b = alpha f_{mu^e}(x^e_b), r^e_b = l'(h^e_b, y^e_b) / (alpha B); x (E, B, d), y (E, B). Each cache-sized
    (members, samples, n) block of :func:`step_blocks` runs its forward pass, loss and backward pass at once
    (:func:`block_step`; ``compiled``: through ``torch.compile``), member blocks on ``workers`` threads
    (:func:`map_blocks`; the numbers do not depend on ``workers``). Rows too wide for such a block, or a
    ``reduce`` of the partial output (an all-reduce across ranks), take :func:`two_pass` over particle blocks.
    """
    E, B = y.shape
    blocks = None if reduce is not None else step_blocks(E, ens.n, B, ens.theta)
    if blocks is None:

        def loss(h):
            h = alpha * (h if reduce is None else reduce(h))
            val, dl = lfn(h, y)
            return val.mean(-1) / alpha**2, dl / (alpha * B)

        return two_pass(ens, x, loss, budget)
    me, cs = blocks
    theta, a = ens.theta.detach(), ens.a
    step = compiled_block_step() if compiled else block_step

    def members(e: int):  # blocks of members x samples that stay in cache
        th, v, J, G = theta[e : e + me], a if a.ndim == 1 else a[e : e + me], None, None
        for s in range(0, B, cs):
            val, g = step(ens.unit, lfn, x[e : e + me, s : s + cs], y[e : e + me, s : s + cs], th, v, alpha, B)
            J, G = (val.sum(1), g) if G is None else (J + val.sum(1), G + g)
        return J, G

    out = map_blocks(members, range(0, E, me), workers)
    J, G = out[0] if len(out) == 1 else (torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out]))
    return J / (B * alpha**2), G
