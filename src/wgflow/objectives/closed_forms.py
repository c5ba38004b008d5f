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

__all__ = ["arccos_kernel", "arccos_kernel_grad", "arccos_terms"]


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


def arccos_kernel(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    r"""k(w1_i, w2_j) = E relu(w1_i.x) relu(w2_j.x), x ~ N(0, I); shape (..., n1, n2) for (..., n1, d), (..., n2, d)."""
    if w1.ndim < 2 or w2.ndim < 2 or w1.shape[-1] != w2.shape[-1]:
        raise ValueError(f"arccos_kernel needs (n1, d) and (n2, d) arrays, got {tuple(w1.shape)} and {tuple(w2.shape)}")
    n1, n2, sin, pmb, cos = arccos_terms(w1, w2)
    return n1 * n2 * (sin + pmb * cos) / (2 * math.pi)


def arccos_kernel_grad(w1: torch.Tensor, w2: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    r"""sum_j coef_ij grad_{w1_i} k(w1_i, w2_j), shape (..., n1, d).

    ``coef`` has shape (..., n1, n2) (or broadcasts to it). Never forms the (n1, n2, d) tensor.
    """
    n1, n2, sin, pmb, _ = arccos_terms(w1, w2)
    unit1 = w1 / n1.clamp_min(torch.finfo(w1.dtype).tiny)
    radial = (coef * sin * n2).sum(-1, keepdim=True)  # (..., n1, 1)
    return (radial * unit1 + (coef * pmb) @ w2) / (2 * math.pi)
