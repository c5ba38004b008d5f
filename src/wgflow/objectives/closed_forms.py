r"""Closed forms for ReLU units with Gaussian inputs (arc-cosine kernel of degree 1).

For x ~ N(0, I_d) (Cho & Saul 2009, eq. 6 with n = 1)::

    k(w, w') = E[relu(w.x) relu(w'.x)] = |w||w'| (sin b + (pi - b) cos b) / (2 pi),
    b = angle(w, w'),

and its gradient in the first argument (differentiate under the expectation:
E[1{w.x > 0} x relu(w'.x)])::

    grad_w k(w, w') = ( |w'| sin b  w/|w|  +  (pi - b) w' ) / (2 pi).

With these, the energy of a ReLU student against a ReLU teacher (docs/science.md §1.3)

    R(mu) = C_f - \int F dmu + 1/2 \iint K dmu dmu

is exact: F(theta) = E[f* phi_theta], K(theta, theta') = c c' k(w, w').

References
----------
1. Y. Cho & L. Saul, "Kernel methods for deep learning", NeurIPS 2009.
2. L. Chizat & F. Bach, NeurIPS 2018, §4 (numerical experiments with exact risks).
"""

from __future__ import annotations

import math

import torch

from ..measures.blocks import chunk_size

__all__ = ["arccos_kernel", "arccos_kernel_grad", "arccos_terms", "population_terms", "stacked_teachers"]


def arccos_terms(w1: torch.Tensor, w2: torch.Tensor):
    """Norms and angle terms shared by the kernel and its gradient.

    w1 (..., n1, d), w2 (..., n2, d) (leading batch dimensions broadcast, e.g. the E members of an
    ensemble). Returns |w1| (..., n1, 1), |w2| (..., 1, n2), sin b, pi - b, cos b (..., n1, n2).
    """
    n1 = w1.norm(dim=-1, keepdim=True)  # (..., n1, 1)
    n2 = w2.norm(dim=-1, keepdim=True).mT  # (..., 1, n2)
    denom = (n1 * n2).clamp_min(torch.finfo(w1.dtype).tiny)
    cos = ((w1 @ w2.mT) / denom).clamp(-1.0, 1.0)  # (..., n1, n2)
    sin = torch.sqrt((1.0 - cos * cos).clamp_min(0.0))
    pi_minus_b = math.pi - torch.arccos(cos)
    return n1, n2, sin, pi_minus_b, cos


class _AngularFactor(torch.autograd.Function):
    r"""h(c) = sin b + (pi - b) c with b = arccos c, the arc-cosine kernel's angular factor, on the clamped
    cosine, with its derivative h'(c) = pi - b.

    h is smooth on [-1, 1]; its two terms are not: autograd through ``sqrt`` and ``arccos`` gives
    inf * 0 = nan at c = ±1, the cosine of a unit with itself (or with a parallel one), and whether a
    cosine rounds to 1 or just below it depends on the machine's arithmetic.
    """

    @staticmethod
    def forward(ctx, cos: torch.Tensor) -> torch.Tensor:
        c = cos.clamp(-1.0, 1.0)
        pmb = math.pi - torch.arccos(c)
        ctx.save_for_backward(pmb)
        return torch.sqrt((1.0 - c * c).clamp_min(0.0)) + pmb * c

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (pmb,) = ctx.saved_tensors
        return grad * pmb


def arccos_kernel(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    r"""k(w1_i, w2_j) = E relu(w1_i.x) relu(w2_j.x), x ~ N(0, I); shape (..., n1, n2) for (..., n1, d), (..., n2, d).

    Differentiable everywhere autograd reaches it, parallel units included (see :class:`_AngularFactor`).
    """
    if w1.ndim < 2 or w2.ndim < 2 or w1.shape[-1] != w2.shape[-1]:
        raise ValueError(f"arccos_kernel needs (n1, d) and (n2, d) arrays, got {tuple(w1.shape)} and {tuple(w2.shape)}")
    n1 = w1.norm(dim=-1, keepdim=True)  # (..., n1, 1)
    n2 = w2.norm(dim=-1, keepdim=True).mT  # (..., 1, n2)
    cos = (w1 @ w2.mT) / (n1 * n2).clamp_min(torch.finfo(w1.dtype).tiny)
    return n1 * n2 * _AngularFactor.apply(cos) / (2 * math.pi)


def arccos_kernel_grad(w1: torch.Tensor, w2: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    r"""sum_j coef_ij grad_{w1_i} k(w1_i, w2_j), shape (..., n1, d).

    ``coef`` has shape (..., n1, n2) (or broadcasts to it). Never forms the (n1, n2, d) tensor.
    """
    n1, n2, sin, pmb, _ = arccos_terms(w1, w2)
    unit1 = w1 / n1.clamp_min(torch.finfo(w1.dtype).tiny)
    radial = (coef * sin * n2).sum(-1, keepdim=True)  # (..., n1, 1)
    return (radial * unit1 + (coef * pmb) @ w2) / (2 * math.pi)


def stacked_teachers(thetas) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """E teachers theta*^e (m0, 1 + d) as c*_j a*_j (E, m0), w* (E, m0, d) and C_f = 1/2 E f*^2 (E,)."""
    cs = torch.stack([t[:, 0] / t.shape[0] for t in thetas])
    ws = torch.stack([t[:, 1:] for t in thetas])
    return cs, ws, 0.5 * (cs[:, None, :] @ arccos_kernel(ws, ws) @ cs[..., None])[:, 0, 0]


def population_terms(theta, a, alpha: float, teachers, grad: bool = True, budget: int | None = None):
    r"""R(alpha f_{mu^e}) (E,) and G^e_i = grad V(theta^e_i) (E, n, p) (or None) of E students against their teachers.

    .. math::

        R = C_f - alpha \int F dmu + alpha^2/2 \iint K dmu dmu,
        V = (1/alpha) (-F + alpha \int K dmu)

    theta (E, n, 1 + d), weights a (n,) or (E, n), ``teachers`` from :func:`stacked_teachers`; the
    (E, b, n) kernel blocks run over b particles at a time (:func:`wgflow.measures.blocks.chunk_size`, ``budget``).
    """
    E, n = theta.shape[:2]
    c, w = theta[..., 0], theta[..., 1:]
    cs_t, ws_t, C_f = teachers
    ac = a * c  # (E, n)
    G = torch.empty_like(theta) if grad else None
    cross = quad = torch.zeros(E, dtype=theta.dtype, device=theta.device)
    cs = chunk_size(E * n, n, theta.dtype, budget)
    for s in range(0, n, cs):
        wb, cb = w[:, s : s + cs], c[:, s : s + cs]
        f_t = (arccos_kernel(wb, ws_t) @ cs_t[..., None])[..., 0]  # (E, b): E[f* relu(w_i.x)]
        f_s = (arccos_kernel(wb, w) @ ac[..., None])[..., 0]  # (E, b): E[f relu(w_i.x)]
        cross = cross + (a[..., s : s + cs] * cb * f_t).sum(-1)
        quad = quad + (ac[:, s : s + cs] * f_s).sum(-1)
        if G is not None:
            G[:, s : s + cs, 0] = (-f_t + alpha * f_s) / alpha
            gw = -arccos_kernel_grad(wb, ws_t, cs_t[:, None, :]) + alpha * arccos_kernel_grad(wb, w, ac[:, None, :])
            G[:, s : s + cs, 1:] = cb[..., None] * gw / alpha
    return C_f - alpha * cross + 0.5 * alpha**2 * quad, G
