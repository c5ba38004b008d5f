r"""Margins of two-layer ReLU classifiers, normalised by the variation (F1) norm.

For a 2-homogeneous network f(x) = (1/m) sum_j c_j relu(w_j . x) (Chizat & Bach, COLT 2020)::

    gamma_F1(mu) = min_i y_i f(x_i) / ( (1/m) sum_j |theta_j|^2 ),   theta_j = (c_j, w_j),

which is invariant under theta -> s theta (numerator and denominator are both 2-homogeneous)
and bounds from below the F1 margin of f, since the variation norm satisfies
|f|_F1 <= (1/m) sum_j |c_j||w_j| <= (1/(2m)) sum_j |theta_j|^2. Gradient flow on the logistic or
exponential loss drives it to the F1 max-margin value when both layers are trained.

References
----------
1. L. Chizat & F. Bach, "Implicit bias of gradient descent for wide two-layer neural networks
   trained with the logistic loss", COLT 2020, Thm 5 and §5.
"""

from __future__ import annotations

import torch

from .measure import ParticleMeasure

__all__ = ["margin", "f1_margin", "param_norm_sq", "classification_error"]


def margin(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> float:
    """min_i y_i f_mu(x_i) (unnormalised; negative when a point is misclassified). x (N, d), y (N,)."""
    return float((y.to(mu.theta.dtype) * mu.output(x, alpha)).min())


def param_norm_sq(mu: ParticleMeasure) -> float:
    """int |theta|^2 dmu = sum_j a_j |theta_j|^2 (= (1/m) sum_j |theta_j|^2 for uniform weights)."""
    return float(mu.a @ (mu.theta.detach() ** 2).sum(1))


def f1_margin(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor) -> float:
    """Normalised margin min_i y_i f(x_i) / int |theta|^2 dmu (scale-invariant for 2-homogeneous units)."""
    if mu.unit.homogeneous != 2:
        raise ValueError(f"the F1-normalised margin needs 2-homogeneous units, got {mu.unit!r}")
    return margin(mu, x, y) / param_norm_sq(mu)


def classification_error(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> float:
    """Fraction of points with sign f(x_i) != y_i (f = 0 counts as an error)."""
    return float(((y.to(mu.theta.dtype) * mu.output(x, alpha)) <= 0).double().mean())
