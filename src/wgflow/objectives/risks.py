r"""Risks of particle measures and their Wasserstein gradients.

For a loss l(h, y) and output scale alpha (Chizat, Oyallon & Bach 2019)::

    J(mu) = (1/alpha^2) E_{x,y} l(alpha f_mu(x), y),

alpha = 1 being the mean-field scaling, alpha = sqrt(n) the NTK scaling and
large alpha the lazy regime. The first variation of J in mu is

    V(theta; mu) = (1/alpha) E[ l'(alpha f_mu(x), y) phi(x; theta) ],

and particle gradient descent in mean-field time follows its gradient:
d theta_i/dt = -grad_theta V(theta_i; mu) = -(1/a_i) dJ/dtheta_i (= -n dJ/dtheta_i).

Every objective gives ``value_and_grad(mu, alpha) -> (J, G)`` with
G_i = grad_theta V(theta_i; mu) of shape (n, p), and evaluates E measures at once: its
``ensemble_value_and_grad(members, ens, alpha)`` takes an :class:`~wgflow.measures.measure.Ensemble`
theta (E, n, p) and the E member objectives (member e's target, teacher or data set) and returns
J (E,) and G (E, n, p). That is the one implementation; a single measure is the ensemble of one.
Objective types without a batched form are evaluated member by member (correct, not faster).

Sampled objectives (:class:`DatasetRisk`, :class:`OnlineRisk`) stream over blocks
(:mod:`wgflow.measures.measure`), so the (B, n) activation matrix never exists whole, and accept a keyword
``reduce``: a linear map of the partial output of the particles at hand before the loss (an
all-reduce across ranks when the particles are sharded, :mod:`wgflow.parallel.sharded`).
``risk(mu, alpha)`` is the evaluation risk E l(alpha f_mu(x), y) of the model alpha f_mu (not
divided by alpha^2): on the full data set, in closed form, or on a fixed test sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..measures.measure import Ensemble, ParticleMeasure, chunk_size, sampled_value_and_grad
from ..measures.units import ReLU
from .closed_forms import arccos_kernel, population_terms, stacked_teachers
from .data import as_tensors, draw, stack_samples

__all__ = ["LOSSES", "Objective", "EnsembleRisk", "DatasetRisk", "OnlineRisk", "PopulationRisk"]


# ----------------------------------------------------------------------------- losses
def _square(h, y):
    return 0.5 * (h - y) ** 2, h - y


def _logistic(h, y):
    m = -y * h
    return torch.nn.functional.softplus(m), -y * torch.sigmoid(m)


def _exponential(h, y):
    e = torch.exp(-y * h)
    return e, -y * e


#: name -> (h, y) -> (loss (B,), dloss/dh (B,))
LOSSES: dict[str, Callable] = {"square": _square, "logistic": _logistic, "exponential": _exponential}


def _check_loss(loss: str) -> Callable:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[loss]


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"output scale alpha must be a positive finite number, got {alpha}")
    return alpha


class Objective:
    """Base class. Subclasses implement the batched :meth:`ensemble_value_and_grad` and :meth:`ensemble_risk`
    (the single-measure methods are their ensemble of one), or the single-measure :meth:`risk` and
    :meth:`value_and_grad` (then ensembles run member by member); and :meth:`V`."""

    loss: str = "square"

    def risk(self, mu: ParticleMeasure, alpha: float = 1.0) -> float:
        """Evaluation risk E l(alpha f_mu(x), y) of one measure."""
        _check_batched(type(self))
        return float(self.ensemble_risk([self], Ensemble.of(mu), alpha)[0])

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        """J (float) and G (n, p) of one measure."""
        _check_batched(type(self))
        J, G = self.ensemble_value_and_grad([self], Ensemble.of(mu), alpha, batch_size, [generator])
        return float(J[0]), G[0]

    def V(self, theta: torch.Tensor, mu: ParticleMeasure, alpha: float = 1.0) -> torch.Tensor:
        """First variation V(theta; mu) at points theta (m, p), shape (m,)."""
        raise NotImplementedError

    @classmethod
    def ensemble_value_and_grad(
        cls, members: Sequence[Any], ens: Ensemble, alpha: float = 1.0, batch_size=None, generators=None, **_
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """J (E,) and G (E, n, p) of member e's objective ``members[e]`` at theta[e] (member e's minibatches
        from ``generators[e]``). Keywords: ``cache`` (a dict that lives as long as the members: stacked data),
        ``workers`` and ``compiled`` (:func:`wgflow.measures.measure.sampled_value_and_grad`). Default: member by member."""
        gens = generators or [None] * len(members)
        out = [
            m.value_and_grad(ens.member_fast(e), alpha, batch_size=batch_size, generator=g)
            for e, (m, g) in enumerate(zip(members, gens))
        ]
        return torch.tensor([o[0] for o in out], dtype=torch.float64), torch.stack([o[1] for o in out])

    @classmethod
    def ensemble_risk(cls, members: Sequence[Any], ens: Ensemble, alpha: float = 1.0, **_) -> np.ndarray:
        """(E,) evaluation risks of member e's objective at theta[e]. Default: member by member."""
        return np.array([m.risk(ens.member_fast(e), alpha) for e, m in enumerate(members)], dtype=float)


def _check_batched(kind: type) -> None:
    if kind.ensemble_risk.__func__ is Objective.ensemble_risk.__func__:  # type: ignore[attr-defined]
        raise NotImplementedError(f"{kind.__name__} implements neither risk/value_and_grad nor their ensemble forms")


class EnsembleRisk:
    """E objectives of one type and loss as one objective of an :class:`~wgflow.measures.measure.Ensemble`: ``value_and_grad``
    (J (E,) tensor, G (E, n, p)) and ``risk`` ((E,) array) are the type's ensemble forms, with a cache of the
    members' stacked data that lives as long as this object."""

    def __init__(self, members: Sequence[Objective]):
        members = list(members)
        if not members:
            raise ValueError("EnsembleRisk: need at least one member objective")
        self.kind = type(members[0])
        if any(type(m) is not self.kind for m in members):
            raise ValueError("EnsembleRisk: members must all be objectives of one type (e.g. all OnlineRisk)")
        if len({m.loss for m in members}) != 1:
            raise ValueError("EnsembleRisk: members must share one loss")
        self.members, self.loss = members, members[0].loss
        self.cache: dict = {}

    def __len__(self) -> int:
        return len(self.members)

    def value_and_grad(self, ens: Ensemble, alpha=1.0, batch_size=None, generators=(), workers=1, compiled=False):
        return self.kind.ensemble_value_and_grad(
            self.members, ens, alpha, batch_size, generators, cache=self.cache, workers=workers, compiled=compiled
        )

    def risk(self, ens: Ensemble, alpha: float = 1.0) -> np.ndarray:
        return self.kind.ensemble_risk(self.members, ens, alpha, cache=self.cache)


class _SampledRisk(Objective):
    """E l(alpha f_mu(x), y) on samples: the evaluation on a fixed sample (:meth:`_fixed`), the training
    objective on the step's samples (:meth:`_draw`; ``batch_size=None``: the fixed sample). ``reduce`` (keyword)
    is a linear map of the partial output before the loss (:mod:`wgflow.parallel.sharded`)."""

    memory_budget: int | None = None

    def risk(self, mu, alpha=1.0, *, reduce=None):
        return float(self.ensemble_risk([self], Ensemble.of(mu), alpha, reduce=reduce)[0])

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None, *, reduce=None):
        J, G = self.ensemble_value_and_grad([self], Ensemble.of(mu), alpha, batch_size, [generator], reduce=reduce)
        return float(J[0]), G[0]

    @classmethod
    def ensemble_value_and_grad(
        cls, members, ens, alpha=1.0, batch_size=None, generators=None, *, cache=None, reduce=None, **kw
    ):
        alpha, m0 = _check_alpha(alpha), members[0]
        dtype, device = ens.theta.dtype, ens.theta.device
        if batch_size is None:
            x, y = cls._fixed(members, cache, dtype, device)
        else:
            x, y = cls._draw(members, int(batch_size), generators or [None] * len(members), cache, dtype, device)
        lfn = _check_loss(m0.loss)
        return sampled_value_and_grad(ens, x, y, lfn, alpha, budget=m0.memory_budget, reduce=reduce, **kw)

    @classmethod
    def ensemble_risk(cls, members, ens, alpha=1.0, *, cache=None, reduce=None, **_):
        X, Y = cls._fixed(members, cache, ens.theta.dtype, ens.theta.device)
        with torch.no_grad():
            h = ens.output(X, _check_alpha(alpha), members[0].memory_budget)
        if reduce is not None:
            h = reduce(h)
        return _check_loss(members[0].loss)(h, Y)[0].mean(1).double().cpu().numpy()

    @classmethod
    def _fixed(cls, members, cache, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @classmethod
    def _draw(cls, members, B: int, generators, cache, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _V(self, theta, mu, x, y, alpha):
        h = mu.output(x, alpha, self.memory_budget)
        _, dl = _check_loss(self.loss)(h, y)
        return (mu.unit.phi(x, theta).T @ dl) / (alpha * x.shape[0])


class DatasetRisk(_SampledRisk):
    """Empirical risk on a fixed data set (x (N, d), y (N,)); SGD draws minibatches of it.

    ``batch_size=None`` in :meth:`value_and_grad` is full-batch gradient descent. ``x`` may also be a
    ``torch.utils.data.Dataset`` of (x_i, y_i) pairs or a ``DataLoader`` (with ``y`` omitted): its data
    set is read once, in order (:func:`wgflow.objectives.data.as_tensors`).
    """

    def __init__(self, x, y: torch.Tensor | None = None, loss: str = "square", memory_budget: int | None = None):
        _check_loss(loss)
        if y is None:
            x, y = as_tensors(x)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {tuple(y.shape)}")
        if x.shape[0] == 0:  # its risk would be a NaN mean, which a flow would blame on the step size
            raise ValueError("the data set is empty (N = 0): give at least one data point")
        if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
            raise ValueError("data set contains NaN or Inf")
        self.x, self.y, self.loss, self.memory_budget = x, y, loss, memory_budget

    @classmethod
    def _fixed(cls, members, cache, dtype, device):
        return stack_samples([(m.x, m.y) for m in members], cache, "data", dtype, device)

    @classmethod
    def _draw(cls, members, B, generators, cache, dtype, device):
        """Minibatches of B indices, member e's from ``generators[e]`` (B >= N: the full data set)."""
        X, Y = cls._fixed(members, cache, dtype, device)
        if X.shape[1] <= B:
            return X, Y
        idx = torch.stack([torch.randint(0, X.shape[1], (B,), generator=g, device=device) for g in generators])
        rows = torch.arange(X.shape[0], device=device)[:, None]
        return X[rows, idx], Y[rows, idx]

    def V(self, theta, mu, alpha=1.0):
        if self.x.shape[1] != mu.unit.d:
            raise ValueError(f"data have dimension {self.x.shape[1]} but the units expect d = {mu.unit.d}")
        kw = {"dtype": mu.theta.dtype, "device": mu.theta.device}
        return self._V(theta, mu, self.x.to(**kw), self.y.to(**kw), _check_alpha(alpha))


class OnlineRisk(_SampledRisk):
    """Population risk estimated online: every step draws ``batch_size`` fresh samples.

    ``sampler(B, generator=, dtype=) -> x (B, d)``; ``target(x) -> y (B,)``. The
    evaluation risk uses a fixed test sample of size ``n_test`` drawn once from
    ``test_seed`` (the same for every run, so curves are comparable).
    """

    def __init__(
        self,
        sampler,
        target,
        loss: str = "square",
        n_test: int = 4096,
        test_seed: int = 12345,
        memory_budget: int | None = None,
    ):
        _check_loss(loss)
        if n_test < 1:
            raise ValueError(f"n_test must be positive, got {n_test}")
        self.sampler, self.target, self.loss = sampler, target, loss
        self.n_test, self.test_seed, self.memory_budget = int(n_test), int(test_seed), memory_budget
        self._test: dict = {}

    def test_set(self, dtype=torch.float64, device=None):
        """The fixed test sample (drawn on the CPU from ``test_seed``, so every device sees the same points)."""
        if dtype not in self._test:
            g = torch.Generator().manual_seed(self.test_seed)
            x = self.sampler(self.n_test, generator=g, dtype=dtype)
            self._test[dtype] = (x, self.target(x).to(dtype))
        x, y = self._test[dtype]
        if device is not None and x.device != torch.device(device):
            key = (dtype, str(device))
            if key not in self._test:
                self._test[key] = (x.to(device), y.to(device))
            return self._test[key]
        return x, y

    @classmethod
    def _fixed(cls, members, cache, dtype, device):
        return stack_samples([m.test_set(dtype) for m in members], cache, "test", dtype, device)

    @classmethod
    def _draw(cls, members, B, generators, cache, dtype, device):
        """Fresh samples x (E, B, d) of every member from its generator (:func:`wgflow.objectives.data.draw`), targets (E, B)."""
        cache = {} if cache is None else cache
        if "target" not in cache:
            cache["target"] = _stacked_target([m.target for m in members])
        x = draw([m.sampler for m in members], B, generators, dtype, device, cache)
        return x, cache["target"](x).to(dtype)

    def V(self, theta, mu, alpha=1.0):
        x, y = self.test_set(mu.theta.dtype)
        return self._V(theta, mu, x, y, _check_alpha(alpha))


def _stacked_target(targets: list) -> Callable:
    """E targets as one map x (E, B, d) -> y (E, B): a type's own ``stack`` when all E > 1 are of one type that
    has it, else member by member."""
    kind = type(targets[0])
    if len(targets) > 1 and all(type(t) is kind for t in targets) and hasattr(kind, "stack"):
        return kind.stack(targets)
    return lambda x: torch.stack([t(x[e]) for e, t in enumerate(targets)])


class PopulationRisk(Objective):
    r"""Exact square-loss population risk of ReLU units (no bias) against a ReLU teacher, x ~ N(0, I_d).

    .. math::

        R(mu) = C_f - \int F dmu + 1/2 \iint K dmu dmu,  F(theta) = E[f* phi_theta],
        K(theta, theta') = c c' k(w, w'),  C_f = 1/2 E f*^2

    with the arc-cosine kernel k (:mod:`wgflow.objectives.closed_forms`). No sampling: the only error of a
    run is optimisation. ``batch_size`` and ``generator`` are ignored. An ensemble's members may
    have teachers of their own (of one width m0: stacked (E, m0, d); else member by member).
    """

    loss = "square"

    def __init__(self, teacher, memory_budget: int | None = None):
        self.teacher = teacher
        self.memory_budget = memory_budget

    def _check(self, unit):
        if not isinstance(unit, ReLU) or unit.bias:
            raise ValueError("PopulationRisk is exact only for ReLU units without bias (x ~ N(0, I))")
        if unit.d != self.teacher.d:
            raise ValueError(f"student has d = {unit.d} but the teacher has d = {self.teacher.d}")

    def _teacher(self, dtype, device=None):
        t = self.teacher.measure.theta.to(dtype=dtype, device=device)
        return t[:, 0] / t.shape[0], t[:, 1:]  # teacher weights a*_j c*_j, w*

    def C_f(self, dtype=torch.float64, device=None) -> float:
        """C_f = 1/2 E f*(x)^2."""
        cs, ws = self._teacher(dtype, device)
        return float(0.5 * cs @ arccos_kernel(ws, ws) @ cs)

    def F(self, theta: torch.Tensor) -> torch.Tensor:
        """External potential F(theta) = E[f*(x) phi(x; theta)], shape (m,)."""
        cs, ws = self._teacher(theta.dtype, theta.device)
        return theta[:, 0] * (arccos_kernel(theta[:, 1:], ws) @ cs)

    def K(self, theta1: torch.Tensor, theta2: torch.Tensor) -> torch.Tensor:
        """Interaction kernel K(theta, theta') = E[phi_theta phi_theta'], shape (m1, m2)."""
        return theta1[:, 0:1] * arccos_kernel(theta1[:, 1:], theta2[:, 1:]) * theta2[:, 0]

    @classmethod
    def ensemble_value_and_grad(cls, members, ens, alpha=1.0, batch_size=None, generators=None, *, cache=None, **_):
        r"""J^e = R(alpha f_{mu^e})/alpha^2 and G^e_i = grad V(theta^e_i), V = (1/alpha)(-F + alpha \int K dmu)."""
        alpha = _check_alpha(alpha)
        R, G = cls._grouped(members, ens, alpha, True, {} if cache is None else cache)
        return R / alpha**2, G

    @classmethod
    def ensemble_risk(cls, members, ens, alpha=1.0, *, cache=None, **_):
        R = cls._grouped(members, ens, _check_alpha(alpha), False, {} if cache is None else cache)[0]
        return R.double().cpu().numpy()

    @classmethod
    def _grouped(cls, members, ens, alpha, grad, cache):
        """Members in groups whose (n, n) kernels fit one block: small systems (dispatch-bound) all together,
        large ones (compute-bound) one at a time; teachers of different widths one member at a time."""
        if cache.get("unit") is not ens.unit:  # once per unit, not every step
            for m in members:
                m._check(ens.unit)
            cache["unit"] = ens.unit
        theta, a, E, budget = ens.theta.detach(), ens.a, ens.E, members[0].memory_budget
        key, tk = ("teachers", theta.dtype, str(theta.device)), {"dtype": theta.dtype, "device": theta.device}
        if len({m.teacher.measure.n for m in members}) > 1:
            g = 1
            teachers = cache.setdefault(key, [stacked_teachers([m.teacher.measure.theta.to(**tk)]) for m in members])
        else:
            g = chunk_size(ens.n * ens.n, E, theta.dtype, budget)  # members per group
            full = cache.setdefault(key, stacked_teachers([m.teacher.measure.theta.to(**tk) for m in members]))
            teachers = [full if g >= E else [t[e : e + g] for t in full] for e in range(0, E, g)]
        parts = [
            population_terms(theta[e : e + g], a if a.ndim == 1 else a[e : e + g], alpha, t, grad, budget)
            for e, t in zip(range(0, E, g), teachers)
        ]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]) if grad else None

    def V(self, theta, mu, alpha=1.0):
        self._check(mu.unit)
        alpha = _check_alpha(alpha)
        inter = self.K(theta, mu.theta) @ mu.a
        return (-self.F(theta) + alpha * inter) / alpha
