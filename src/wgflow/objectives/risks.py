r"""Risks of particle measures and their Wasserstein gradients.

For a loss l(h, y) and output scale alpha (Chizat, Oyallon & Bach 2019)::

    J(mu) = (1/alpha^2) E_{x,y} l(alpha f_mu(x), y),

alpha = 1 being the mean-field scaling, alpha = sqrt(n) the NTK scaling and
large alpha the lazy regime. The first variation of J in mu is

    V(theta; mu) = (1/alpha) E[ l'(alpha f_mu(x), y) phi(x; theta) ],

and particle gradient descent in mean-field time follows its gradient:
d theta_i/dt = -grad_theta V(theta_i; mu) = -(1/a_i) dJ/dtheta_i (= -n dJ/dtheta_i).

Every objective gives ``value_and_grad(mu, alpha) -> (J, G)`` with
G_i = grad_theta V(theta_i; mu) of shape (n, p), computed block by block over
particles (two streaming passes: outputs, then vector-Jacobian products), so the
(B, n) activation matrix never exists whole.

Sampled objectives (:class:`DatasetRisk`, :class:`OnlineRisk`) accept a keyword
``reduce`` in ``risk`` and ``value_and_grad``: a linear map applied to the partial
output of the particles at hand before the loss (an all-reduce across ranks when the
particles are sharded, :mod:`wgflow.parallel.sharded`).

``risk(mu, alpha)`` is the evaluation risk E l(alpha f_mu(x), y) of the model
alpha f_mu (not divided by alpha^2): on the full data set, in closed form, or on a
fixed test sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..measures.measure import DEFAULT_MEMORY_BUDGET, ParticleMeasure, chunk_size
from ..measures.units import ReLU
from .closed_forms import arccos_kernel, arccos_kernel_grad

__all__ = ["LOSSES", "Objective", "DatasetRisk", "OnlineRisk", "PopulationRisk", "PopulationEnsemble"]


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
    """Base class. Subclasses implement :meth:`risk`, :meth:`value_and_grad`, :meth:`V`."""

    loss: str = "square"

    def risk(self, mu: ParticleMeasure, alpha: float = 1.0) -> float:
        raise NotImplementedError

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        raise NotImplementedError

    def V(self, theta: torch.Tensor, mu: ParticleMeasure, alpha: float = 1.0) -> torch.Tensor:
        """First variation V(theta; mu) at points theta (m, p), shape (m,)."""
        raise NotImplementedError

    @classmethod
    def ensemble(cls, members: Sequence[Objective]):
        """E objectives of this type as one batched objective (``value_and_grad(ens, alpha, batch_size,
        generators) -> (J (E,), G (E, n, p))``, ``risk(ens, alpha) -> (E,)``), or None: an
        :class:`~wgflow.flows.EnsembleRisk` of them is then evaluated member by member."""
        return None


def _sampled_value_and_grad(mu, x, y, loss, alpha, memory_budget=None, reduce=None):
    """(J, G) on the sample (x, y): two streaming passes over particle blocks.

    Pass 1 computes h = alpha f_mu(x) block by block; pass 2 the vector-Jacobian
    products with r = l'(h, y) / (alpha B). The blocks' activations are kept
    between the passes only while they fit in the memory budget; otherwise they
    are recomputed (one extra matmul per block, memory stays bounded).
    ``reduce`` (e.g. an all-reduce across ranks) is applied to the partial output.
    """
    lfn = _check_loss(loss)
    theta = mu.theta.detach()
    a = mu.a
    B = x.shape[0]
    cs = chunk_size(B, mu.n, theta.dtype, memory_budget)
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    keep = B * mu.n * theta.element_size() <= budget  # cache activations between passes?
    blocks = range(0, mu.n, cs)
    with torch.no_grad():
        h = torch.zeros(B, dtype=theta.dtype, device=theta.device)
        caches = []
        for s in blocks:
            part, cache = mu.unit.forward(x, theta[s : s + cs], a[s : s + cs])
            h += part
            caches.append(cache if keep else None)
        if reduce is not None:
            h = reduce(h)
        h *= alpha
        val, dl = lfn(h, y)
        r = dl / (alpha * B)  # (B,)  so that G_i = sum_b r_b grad phi(x_b; theta_i)
        G = torch.cat([mu.unit.vjp(x, theta[s : s + cs], r, c) for s, c in zip(blocks, caches)])
    return float(val.mean()) / alpha**2, G


def _sampled_risk(mu, x, y, loss, alpha, memory_budget=None, reduce=None):
    """Mean loss of alpha f_mu on (x, y); ``reduce`` sums the partial outputs of sharded particles."""
    h = mu.output(x, alpha, memory_budget)
    if reduce is not None:
        h = reduce(h)
    return float(_check_loss(loss)(h, y)[0].mean())


def _sampled_V(theta, mu, x, y, loss, alpha, memory_budget=None):
    lfn = _check_loss(loss)
    h = mu.output(x, alpha, memory_budget)
    _, dl = lfn(h, y)
    return (mu.unit.phi(x, theta).T @ dl) / (alpha * x.shape[0])


class DatasetRisk(Objective):
    """Empirical risk on a fixed data set (x (N, d), y (N,)); SGD draws minibatches of it.

    ``batch_size=None`` in :meth:`value_and_grad` is full-batch gradient descent. ``x`` may also be a
    ``torch.utils.data.Dataset`` of (x_i, y_i) pairs or a ``DataLoader`` (with ``y`` omitted): its data
    set is read once, in order (:func:`wgflow.objectives.data.as_tensors`).
    """

    def __init__(self, x, y: torch.Tensor | None = None, loss: str = "square", memory_budget: int | None = None):
        _check_loss(loss)
        if y is None:
            from .data import as_tensors

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

    def _xy(self, mu):
        if self.x.shape[1] != mu.unit.d:
            raise ValueError(f"data have dimension {self.x.shape[1]} but the units expect d = {mu.unit.d}")
        kw = {"dtype": mu.theta.dtype, "device": mu.theta.device}
        return self.x.to(**kw), self.y.to(**kw)

    def risk(self, mu, alpha=1.0, *, reduce=None):
        alpha = _check_alpha(alpha)
        x, y = self._xy(mu)
        return _sampled_risk(mu, x, y, self.loss, alpha, self.memory_budget, reduce)

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None, *, reduce=None):
        alpha = _check_alpha(alpha)
        x, y = self._xy(mu)
        if batch_size is not None and batch_size < x.shape[0]:
            idx = torch.randint(0, x.shape[0], (int(batch_size),), generator=generator, device=x.device)
            x, y = x[idx], y[idx]
        return _sampled_value_and_grad(mu, x, y, self.loss, alpha, self.memory_budget, reduce)

    def V(self, theta, mu, alpha=1.0):
        x, y = self._xy(mu)
        return _sampled_V(theta, mu, x, y, self.loss, _check_alpha(alpha), self.memory_budget)


class OnlineRisk(Objective):
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

    def risk(self, mu, alpha=1.0, *, reduce=None):
        alpha = _check_alpha(alpha)
        x, y = self.test_set(mu.theta.dtype, mu.theta.device)
        return _sampled_risk(mu, x, y, self.loss, alpha, self.memory_budget, reduce)

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None, *, reduce=None):
        alpha = _check_alpha(alpha)
        if batch_size is None:
            x, y = self.test_set(mu.theta.dtype, mu.theta.device)
        else:
            kw = {} if mu.theta.device.type == "cpu" else {"device": mu.theta.device}
            x = self.sampler(int(batch_size), generator=generator, dtype=mu.theta.dtype, **kw)
            y = self.target(x).to(mu.theta.dtype)
        return _sampled_value_and_grad(mu, x, y, self.loss, alpha, self.memory_budget, reduce)

    def V(self, theta, mu, alpha=1.0):
        x, y = self.test_set(mu.theta.dtype)
        return _sampled_V(theta, mu, x, y, self.loss, _check_alpha(alpha), self.memory_budget)


class PopulationRisk(Objective):
    r"""Exact square-loss population risk of ReLU units (no bias) against a ReLU teacher, x ~ N(0, I_d).

    .. math::

        R(mu) = C_f - \int F dmu + 1/2 \iint K dmu dmu,  F(theta) = E[f* phi_theta],
        K(theta, theta') = c c' k(w, w'),  C_f = 1/2 E f*^2

    with the arc-cosine kernel k (:mod:`wgflow.objectives.closed_forms`). No sampling: the only error of a
    run is optimisation. ``batch_size`` and ``generator`` are ignored.
    """

    loss = "square"

    def __init__(self, teacher, memory_budget: int | None = None):
        self.teacher = teacher
        self.memory_budget = memory_budget

    def _check(self, mu):
        if not isinstance(mu.unit, ReLU) or mu.unit.bias:
            raise ValueError("PopulationRisk is exact only for ReLU units without bias (x ~ N(0, I))")
        if mu.unit.d != self.teacher.d:
            raise ValueError(f"student has d = {mu.unit.d} but the teacher has d = {self.teacher.d}")

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

    def risk(self, mu, alpha=1.0):
        self._check(mu)
        return float(self._terms(mu.theta.detach()[None], mu.a, _check_alpha(alpha), grad=False)[0][0])

    def value_and_grad(self, mu, alpha=1.0, batch_size=None, generator=None):
        r"""J = R(alpha f)/alpha^2 and G_i = grad V(theta_i), V = (1/alpha)(-F + alpha \int K dmu)."""
        self._check(mu)
        alpha = _check_alpha(alpha)
        R, G = self._terms(mu.theta.detach()[None], mu.a, alpha)
        return float(R[0]) / alpha**2, G[0]

    def _terms(self, theta, a, alpha, grad=True, teachers=None):
        """(R (E,), G (E, n, p) or None) of E students theta (E, n, p) with weights a (n,), blocks of particles.

        ``teachers``: (c*_j a*_j (E, m0), w* (E, m0, d), C_f (E,)) of member e's teacher (default: this one's).
        """
        E, n = theta.shape[:2]
        c, w = theta[..., 0], theta[..., 1:]
        cs_t, ws_t, C_f = teachers or _stacked_teachers([self], theta.dtype, theta.device)
        ac = a * c  # (E, n)
        G = torch.empty_like(theta) if grad else None
        cross = quad = torch.zeros(E, dtype=theta.dtype, device=theta.device)
        cs = chunk_size(E * n, n, theta.dtype, self.memory_budget)  # (E, cs, n) blocks
        for s in range(0, n, cs):
            wb, cb = w[:, s : s + cs], c[:, s : s + cs]
            f_t = (arccos_kernel(wb, ws_t) @ cs_t[..., None])[..., 0]  # (E, b): E[f* relu(w_i.x)]
            f_s = (arccos_kernel(wb, w) @ ac[..., None])[..., 0]  # (E, b): E[f relu(w_i.x)]
            cross = cross + (a[s : s + cs] * cb * f_t).sum(-1)
            quad = quad + (ac[:, s : s + cs] * f_s).sum(-1)
            if grad:
                G[:, s : s + cs, 0] = (-f_t + alpha * f_s) / alpha
                gw = -arccos_kernel_grad(wb, ws_t, cs_t[:, None, :]) + alpha * arccos_kernel_grad(wb, w, ac[:, None, :])
                G[:, s : s + cs, 1:] = cb[..., None] * gw / alpha
        return C_f - alpha * cross + 0.5 * alpha**2 * quad, G

    @classmethod
    def ensemble(cls, members):
        """The E members as one batched objective (:class:`PopulationEnsemble`): teachers of one width."""
        return PopulationEnsemble(members) if len({m.teacher.measure.n for m in members}) == 1 else None

    def V(self, theta, mu, alpha=1.0):
        self._check(mu)
        alpha = _check_alpha(alpha)
        inter = self.K(theta, mu.theta) @ mu.a
        return (-self.F(theta) + alpha * inter) / alpha


def _stacked_teachers(members: Sequence[PopulationRisk], dtype, device):
    """Member e's teacher weights c*_j a*_j (E, m0), w* (E, m0, d) and C_f = 1/2 E f*^2 (E,)."""
    parts = [m._teacher(dtype, device) for m in members]
    cs, ws = (torch.stack([p[i] for p in parts]) for i in (0, 1))
    return cs, ws, 0.5 * (cs[:, None, :] @ arccos_kernel(ws, ws) @ cs[..., None])[:, 0, 0]


class PopulationEnsemble:
    """E :class:`PopulationRisk` members (teachers of one width m0) evaluated as one batched computation.

    Member e's risk and gradient are those of ``members[e]`` at theta[e] (the same arithmetic with a
    leading batch dimension: (E, b, n) kernel blocks, E teachers stacked as (E, m0, d)). Members are
    grouped so that a group's (n, n) kernels fit in one block: small systems (dispatch-bound) run
    all together, large ones (compute-bound; measured 0.64x as one batch at n = 2048, E = 5) one at a time.
    """

    def __init__(self, members: Sequence[PopulationRisk]):
        self.members, self.loss = list(members), "square"
        self._cache: dict = {}

    def _teachers(self, dtype, device):
        key = (dtype, str(device))
        if key not in self._cache:  # the teachers and C_f do not change during a run
            self._cache[key] = _stacked_teachers(self.members, dtype, device)
        return self._cache[key]

    def _terms(self, ens, alpha, grad):
        if self._cache.get("unit") is not ens.unit:  # once per unit, not every step
            for m in self.members:
                m._check(ens.member_fast(0))
            self._cache["unit"] = ens.unit
        theta, m0 = ens.theta.detach(), self.members[0]
        a = torch.full((ens.n,), 1.0 / ens.n, dtype=theta.dtype, device=theta.device)
        teachers = self._teachers(theta.dtype, theta.device)
        g = chunk_size(ens.n * ens.n, ens.E, theta.dtype, m0.memory_budget)  # members per group
        if g >= ens.E:
            return m0._terms(theta, a, alpha, grad, teachers)
        parts = [
            m0._terms(theta[e : e + g], a, alpha, grad, [t[e : e + g] for t in teachers]) for e in range(0, ens.E, g)
        ]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]) if grad else None

    def value_and_grad(self, ens, alpha=1.0, batch_size=None, generators=()):
        alpha = _check_alpha(alpha)
        R, G = self._terms(ens, alpha, grad=True)
        return R / alpha**2, G

    def risk(self, ens, alpha=1.0):
        return self._terms(ens, _check_alpha(alpha), grad=False)[0].double().cpu().numpy()
