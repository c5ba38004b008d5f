r"""Isotropic-Gaussians classification (Mei, Montanari & Nguyen 2018) with closed-form expectations.

Task: y = ±1 with probability 1/2 and x | y ~ N(0, tau_y^2 I_d), tau_{+1} = 1 + Delta,
tau_{-1} = 1 - Delta. Network f(x) = (1/N) sum_i c_i s(w_i . x) with the piecewise-linear
activation s of :class:`~wgflow.measures.units.PiecewiseLinear` (MMN: c_i = 1, frozen), square loss
R = 1/2 E (y - f(x))^2. Its energy decomposition (docs/science.md §1.2) is::

    R(mu) = 1/2 + \int c v(|w|) dmu + 1/2 \iint c c' U(w, w') dmu dmu,
    v(r) = -1/2 [ E s(tau_+ r G) - E s(tau_- r G) ],                         G ~ N(0, 1)
    U(w, w') = 1/2 sum_{tau} E[ s(tau w.g) s(tau w'.g) ],                    g ~ N(0, I_d).

**Hermite expansion of U.** With A_k(a) = E[s(a G) He_k(G)] (probabilists' Hermite
polynomials) and u = cos angle(w, w'), Mehler's formula gives

    U(w, w') = 1/2 sum_tau sum_{k>=0} A_k(tau r) A_k(tau r') u^k / k!,    r = |w|, r' = |w'|,   (1)

and for s = s1 + kappa (relu(z - t1) - relu(z - t2)), kappa = (s2 - s1)/(t2 - t1), every A_k is
closed form (Stein's lemma, c = t/a, phi/Phi the standard normal pdf/cdf):

    E[relu(aG - t)]         = a phi(c) - t (1 - Phi(c)),
    E[relu(aG - t) He_1(G)] = a (1 - Phi(c)),
    E[relu(aG - t) He_k(G)] = a phi(c) He_{k-2}(c)               (k >= 2),
    d/da E[relu(aG - t) He_k(G)] = T_{k+1}(c) + k T_{k-1}(c),   T_0 = 1 - Phi, T_j = phi He_{j-1}.

:class:`IsotropicGaussiansRisk` is the exact population risk of N particles with (1) truncated
at order K for distinct particles (the diagonal U(w, w) = 1/2 sum_tau E s(tau r G)^2 is exact).
By Cauchy-Schwarz the truncation error of one pair is at most |u|^{K+1} (1/2) sum_tau
sqrt(S2(tau r) S2(tau r')), S2(a) = E s(aG)^2; in d dimensions |u| ~ d^{-1/2}, so K = 8 at
d = 40 leaves ~1e-7. The 1-D limit equation (:mod:`wgflow.limits.radial`) uses the same
truncated kernel, so particles and PDE follow the same model exactly.

References
----------
1. S. Mei, A. Montanari & P.-M. Nguyen, "A mean field view of the landscape of two-layer
   neural networks", PNAS 115 (2018), "isotropic Gaussians" example.
2. R. O'Donnell, "Analysis of Boolean functions" (2014), §11.2 (Hermite expansions, Mehler).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..measures.measure import ParticleMeasure, chunk_size, sampled_value_and_grad
from ..measures.units import PiecewiseLinear
from ..objectives.risks import LOSSES, Objective

__all__ = ["IsotropicGaussians", "IsotropicGaussiansRisk", "hermite_coefficients", "second_moment"]

_CMAX = 50.0  # |t/a| beyond which phi(c) underflows to 0 in float64; keeps He_k(c) finite


def _phi(c):
    return torch.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)


def _sf(c):  # 1 - Phi(c), accurate in the upper tail
    return 0.5 * torch.erfc(c / math.sqrt(2.0))


def _hermite(c, K):
    """He_0..He_K at c, shape (..., K + 1) (recurrence He_{k+1} = c He_k - k He_{k-1})."""
    out = [torch.ones_like(c), c]
    for k in range(1, K):
        out.append(c * out[k] - k * out[k - 1])
    return torch.stack(out[: K + 1], dim=-1)


def _relu_coeffs(a, t, K):
    """E[relu(aG - t) He_k(G)] and its a-derivative for k = 0..K; a > 0 of any shape."""
    c = (t / a).clamp(-_CMAX, _CMAX)
    ph, sf = _phi(c), _sf(c)
    He = _hermite(c, K + 1)  # (..., K + 2)
    R = torch.empty(*a.shape, K + 1, dtype=a.dtype, device=a.device)
    R[..., 0] = a * ph - t * sf
    if K >= 1:
        R[..., 1] = a * sf
    if K >= 2:
        R[..., 2:] = (a * ph)[..., None] * He[..., : K - 1]
    # T_j = E[1{G > c} He_j(G)]: T_0 = sf, T_j = phi He_{j-1}
    T = torch.cat([sf[..., None], ph[..., None] * He[..., : K + 1]], dim=-1)  # (..., K + 2), j = 0..K+1
    k = torch.arange(K + 1, dtype=a.dtype, device=a.device)
    dR = T[..., 1:].clone()
    dR[..., 1:] += k[1:] * T[..., :K]
    return R, dR


def hermite_coefficients(a: torch.Tensor, unit: PiecewiseLinear, K: int):
    r"""A_k(a) = E[s(aG) He_k(G)] and A_k'(a) for k = 0..K, shapes (..., K + 1). Requires a > 0."""
    a = a.clamp_min(1e-300)
    kappa = (unit.s2 - unit.s1) / (unit.t2 - unit.t1)
    R1, dR1 = _relu_coeffs(a, unit.t1, K)
    R2, dR2 = _relu_coeffs(a, unit.t2, K)
    A = kappa * (R1 - R2)
    A[..., 0] += unit.s1
    return A, kappa * (dR1 - dR2)


def second_moment(a: torch.Tensor, unit: PiecewiseLinear):
    r"""S2(a) = E s(aG)^2 and S2'(a) in closed form (truncated Gaussian moments on [t1/a, t2/a])."""
    a = a.clamp_min(1e-300)
    kappa = (unit.s2 - unit.s1) / (unit.t2 - unit.t1)
    c1, c2 = (unit.t1 / a).clamp(-_CMAX, _CMAX), (unit.t2 / a).clamp(-_CMAX, _CMAX)
    M0 = _sf(c1) - _sf(c2)  # P(c1 < G < c2)
    M1 = _phi(c1) - _phi(c2)  # E[G 1{..}]
    M2 = M0 + c1 * _phi(c1) - c2 * _phi(c2)  # E[G^2 1{..}]
    b = unit.s1 - kappa * unit.t1  # s(z) = b + kappa z on the ramp
    S2 = unit.s1**2 * (1 - _sf(c1)) + unit.s2**2 * _sf(c2) + b * b * M0 + 2 * b * kappa * a * M1 + kappa**2 * a * a * M2
    dS2 = 2 * kappa * (b * M1 + kappa * a * M2)
    return S2, dS2


@dataclass(frozen=True)
class IsotropicGaussians:
    """The task: y = ±1 w.p. 1/2, x | y ~ N(0, (1 + y Delta)^2 I_d)."""

    d: int = 40  # input dimension
    delta: float = 0.8  # Delta in (0, 1): separation of the two class scales

    def __post_init__(self):
        if not 0 < self.delta < 1:
            raise ValueError(f"IsotropicGaussians.delta must lie in (0, 1), got {self.delta}")

    @property
    def taus(self) -> tuple[float, float]:
        return 1.0 + self.delta, 1.0 - self.delta

    def sample(self, B: int, generator=None, dtype=torch.float64):
        """(x (B, d), y (B,)) drawn i.i.d. from the task."""
        y = torch.where(torch.rand(B, generator=generator, dtype=dtype) < 0.5, 1.0, -1.0).to(dtype)
        x = torch.randn(B, self.d, generator=generator, dtype=dtype) * (1.0 + self.delta * y)[:, None]
        return x, y


class IsotropicGaussiansRisk(Objective):
    r"""Exact R(mu) = 1/2 E (y - f_mu(x))^2 for :class:`PiecewiseLinear` units on the task.

    ``value_and_grad(mu, batch_size=None)`` is the exact population gradient G_i = grad V(theta_i; mu)
    (O(n^2 (K + d)) per call); ``batch_size=P`` is online SGD with P fresh samples (MMN's SGD).
    ``risk`` is always exact. Only the mean-field scale alpha = 1 is supported. An ensemble's members
    share the task and K; member e draws its SGD samples from ``generators[e]``.
    """

    loss = "square"

    def __init__(self, task: IsotropicGaussians, K: int = 8):
        self.task, self.K = task, int(K)

    def _check(self, unit, alpha):
        if not isinstance(unit, PiecewiseLinear) or unit.d != self.task.d:
            raise ValueError(f"IsotropicGaussiansRisk needs PiecewiseLinear units with d = {self.task.d}")
        if alpha != 1.0:
            raise ValueError("IsotropicGaussiansRisk supports the mean-field scale alpha = 1 only")

    def _single(self, r, unit):
        """Per-particle terms: v, v', diagonal U(w, w) and its half-derivative, coefficient tables."""
        (tp, tm), K = self.task.taus, self.K
        Ap, Dp = hermite_coefficients(tp * r, unit, K)
        Am, Dm = hermite_coefficients(tm * r, unit, K)
        v = -0.5 * (Ap[..., 0] - Am[..., 0])
        dv = -0.5 * (tp * Dp[..., 0] - tm * Dm[..., 0])
        Sp, dSp = second_moment(tp * r, unit)
        Sm, dSm = second_moment(tm * r, unit)
        Uii = 0.5 * (Sp + Sm)
        dUii = 0.25 * (tp * dSp + tm * dSm)  # d/dr of U(w, w') in its first argument, at w' = w
        A = torch.stack([Ap, Am])  # (2, ..., n, K + 1)
        D = torch.stack([tp * Dp, tm * Dm])  # d/dr
        return v, dv, Uii, dUii, A, D

    def _terms(self, theta: torch.Tensor, a: torch.Tensor, unit, grad: bool):
        """R (E,) and G (E, n, p) (or None) of E measures theta (E, n, p) with weights a (n,)."""
        c, w = theta[..., 0], theta[..., 1:]
        r = w.norm(dim=-1).clamp_min(1e-150)  # (E, n)
        wh = w / r[..., None]  # (E, n, d)
        b = a * c  # (E, n)
        v, dv, Uii, dUii, A, D = self._single(r, unit)  # A, D: (2, E, n, K + 1)
        u = (wh @ wh.mT).clamp(-1.0, 1.0)  # (E, n, n)
        u.diagonal(dim1=-2, dim2=-1).zero_()  # distinct pairs only; the diagonal is exact (Uii)
        P = torch.ones_like(u)
        P.diagonal(dim1=-2, dim2=-1).zero_()  # u^k off the diagonal, k = 0
        inter = torch.zeros_like(r)  # sum_{j != i} b_j U_ij
        radial = torch.zeros_like(r)
        tangent = torch.zeros_like(w)
        P_prev = P  # u^{k-1} off the diagonal, used from k = 1 on
        for k in range(self.K + 1):
            fk = 1.0 / math.factorial(k)
            bA = b * A[..., k]  # (2, E, n): b_j A^tau_jk
            M = P @ bA.permute(1, 2, 0)  # (E, n, 2): sum_j u_ij^k b_j A_jk
            inter += 0.5 * fk * (A[..., k].permute(1, 2, 0) * M).sum(-1)
            if grad:
                radial += 0.5 * fk * ((D[..., k] - k * A[..., k] / r).permute(1, 2, 0) * M).sum(-1)
                if k >= 1:  # d u^k / d w_i = k u^{k-1} (wh_j - u wh_i) / r_i; the wh_i part is in `radial`
                    coef = 0.5 * fk * k * A[..., k] / r  # (2, E, n)
                    tangent += sum(coef[s][..., None] * (P_prev @ (bA[s][..., None] * wh)) for s in range(2))
            P_prev = P
            P = P * u
        Vi = v + inter + b * Uii  # first variation / c_i at particle i
        R = 0.5 + (b * v).sum(-1) + 0.5 * (b * (inter + b * Uii)).sum(-1)
        if not grad:
            return R, None
        G = torch.empty_like(theta)
        G[..., 0] = Vi
        G[..., 1:] = c[..., None] * ((dv + radial + b * dUii)[..., None] * wh + tangent)
        return R, G

    @classmethod
    def _exact(cls, members, ens, alpha, grad):
        """R (E,) and G (E, n, p) or None, members in groups whose (n, n) interaction matrices fit one block."""
        m0 = members[0]
        if len({(m.task, m.K) for m in members}) != 1:
            raise ValueError("IsotropicGaussiansRisk: an ensemble's members must share the task and K")
        m0._check(ens.unit, alpha)
        theta, a = ens.theta.detach(), ens.a
        g = chunk_size(ens.n * ens.n, ens.E, theta.dtype)  # members per group
        parts = [
            m0._terms(theta[e : e + g], a if a.ndim == 1 else a[e : e + g], ens.unit, grad) for e in range(0, ens.E, g)
        ]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]) if grad else None

    @classmethod
    def ensemble_value_and_grad(cls, members, ens, alpha=1.0, batch_size=None, generators=None, **kw):
        if batch_size is None:
            return cls._exact(members, ens, alpha, grad=True)
        members[0]._check(ens.unit, alpha)
        gens = generators or [None] * ens.E
        xy = [m.task.sample(int(batch_size), generator=g, dtype=ens.theta.dtype) for m, g in zip(members, gens)]
        x, y = (torch.stack([p[i] for p in xy]).to(ens.theta.device) for i in (0, 1))
        kw.pop("cache", None)
        return sampled_value_and_grad(ens, x, y, LOSSES["square"], 1.0, **kw)

    @classmethod
    def ensemble_risk(cls, members, ens, alpha=1.0, **_):
        return cls._exact(members, ens, alpha, grad=False)[0].double().cpu().numpy()

    def V(self, theta: torch.Tensor, mu: ParticleMeasure, alpha: float = 1.0) -> torch.Tensor:
        """First variation c [v(|w|) + sum_j a_j c_j U(w, w_j)] at points theta (m, 1 + d), series (1) to order K."""
        self._check(mu.unit, alpha)
        r = theta[:, 1:].norm(dim=1).clamp_min(1e-150)
        v, _, _, _, A, _ = self._single(r, mu.unit)
        rj = mu.theta[:, 1:].norm(dim=1).clamp_min(1e-150)
        Aj = self._single(rj, mu.unit)[4]
        u = ((theta[:, 1:] / r[:, None]) @ (mu.theta[:, 1:] / rj[:, None]).T).clamp(-1, 1)  # (m, n)
        b = mu.a * mu.theta[:, 0]
        inter = torch.zeros_like(r)
        for k in range(self.K + 1):
            M = (u**k) @ (b[None, :] * Aj[:, :, k]).T  # (m, 2)
            inter += 0.5 / math.factorial(k) * (A[:, :, k].T * M).sum(1)
        return theta[:, 0] * (v + inter)
