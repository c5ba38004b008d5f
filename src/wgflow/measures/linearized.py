r"""The linearised (tangent) model of a particle network, trainable by the same flow.

Chizat, Oyallon & Bach (NeurIPS 2019, eq. 2) compare a network with its linearisation at the
initial parameters theta^0::

    f_lin(x; theta) = f(x; theta^0) + grad_theta f(x; theta^0) . (theta - theta^0),

for a particle network f = alpha sum_i a_i phi(x; theta_i) that is again a sum over particles of

    phi_lin(x; (theta_i, theta^0_i)) = phi(x; theta^0_i) + grad_theta phi(x; theta^0_i) . (theta_i - theta^0_i).

:class:`Tangent` is that unit family: a particle carries (theta_i, theta^0_i) (p = 2 p_base); the
anchor theta^0_i never moves because its gradient is defined as zero, so ``wgflow.train`` (the
only training loop) trains the linear model with any objective, step schedule and output scale
alpha. In the lazy limit alpha -> infinity the network's trajectory converges to this one
(Chizat, Oyallon & Bach 2019, Thm 2.2).

**Centring.** The objective (1/alpha^2) R(alpha f) needs alpha f(theta^0) = O(1); as in the
source, :func:`symmetric_init` pairs each unit with a copy whose output weight is negated, so
f(x; theta^0) = 0 exactly for every x (and hence f_lin(x; theta^0) = 0 too).

References
----------
1. L. Chizat, E. Oyallon & F. Bach, "On lazy training in differentiable programming",
   NeurIPS 2019, §2 and §3 (the scaled objective and the symmetrised initialisation).
"""

from __future__ import annotations

import torch

from .units import Unit, make_unit, register_unit_reader

__all__ = ["Tangent", "tangent_theta", "symmetric_init"]


class Tangent(Unit):
    r"""Linearised unit phi_lin(x; (theta, theta0)) = phi(x; theta0) + grad phi(x; theta0) . (theta - theta0).

    theta of this family has shape (n, 2 p_base): columns [:p_base] the moving parameters,
    [p_base:] the frozen anchor. Column 0 is still the output weight c (so ``eta_output``
    applies to it). The forward pass is a Jacobian-vector product (``torch.func.jvp``), the
    backward pass the base unit's own vector-Jacobian product evaluated at the anchor.
    """

    name = "tangent"

    def __init__(self, base: Unit):
        super().__init__(base.d)
        self.base = base
        self.homogeneous = None

    @property
    def p(self) -> int:
        return 2 * self.base.p

    def split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(theta (..., n, p_base), theta0 (..., n, p_base))."""
        q = self.base.p
        return theta[..., :q], theta[..., q:]

    def phi(self, x, theta):
        th, th0 = self.split(theta)
        primal_tangent = torch.func.jvp(lambda t: self.base.phi(x, t), (th0,), (th - th0,))
        base_phi, jv = primal_tangent[0], primal_tangent[1]
        return base_phi + jv  # (..., B, n)

    def vjp(self, x, theta, r, cache=None):
        _th, th0 = self.split(theta)
        g = torch.zeros_like(theta)
        g[..., : self.base.p] = self.base.vjp(x, th0, r)  # the gradient of a linear model is constant
        return g

    def project(self, theta):
        th, th0 = self.split(theta)
        return torch.cat([self.base.project(th), th0], dim=-1)

    def project_grad(self, theta, g):
        return g

    def __repr__(self):
        return f"Tangent({self.base!r})"

    def spec(self):
        return {"name": self.name, "base": self.base.spec()}


register_unit_reader("tangent", lambda spec: Tangent(make_unit(spec["base"])))


def tangent_theta(theta0: torch.Tensor) -> torch.Tensor:
    """Initial particles (theta0, theta0) of the tangent model at the anchor theta0 (n, p) -> (n, 2p)."""
    return torch.cat([theta0, theta0], dim=1)


def symmetric_init(theta: torch.Tensor) -> torch.Tensor:
    """Pairs (c, w) and (-c, w): f(x; theta) = 0 for every x. (n, p) -> (2n, p)."""
    mirror = theta.clone()
    mirror[:, 0] = -mirror[:, 0]
    return torch.cat([theta, mirror], dim=0)
