r"""Unit families: the feature map :math:`\phi(x;\theta)` of one hidden unit.

A two-layer network with n units is the integral of a unit against the empirical measure of its
parameters (docs/science.md §1.1)::

    f_mu(x) = alpha * \int phi(x; theta) dmu(theta),   mu = (1/n) sum_i delta_{theta_i}.

Every family stores the output weight ``c`` in column 0 of ``theta`` (n, p). Each family gives the
features ``phi(x, theta) -> (B, n)`` and, for speed and bounded memory, the hand-derived
vector-Jacobian product ``vjp(x, theta, r)_i = sum_b r_b grad_theta phi(x_b; theta_i)`` (n, p), which
the flows use instead of autograd (checked against autograd in the tests with ``gradcheck``).
Every kernel takes leading batch dimensions: an ensemble's x (E, B, d), theta (E, n, p) and
r (E, B) give features (E, B, n) and gradients (E, n, p), member e from its own x^e and theta^e.

References
----------
1. Chizat & Bach, "On the global convergence of gradient descent for
   over-parameterized models using optimal transport", NeurIPS 2018.
2. Rotskoff & Vanden-Eijnden, "Trainability and accuracy of neural networks:
   an interacting particle system approach", arXiv:1805.00915 (2018/2022), §4.
3. Mei, Montanari & Nguyen, "A mean field view of the landscape of two-layer
   neural networks", PNAS 2018.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Unit", "ReLU", "Sigmoid", "Tanh", "RBFSphere", "PiecewiseLinear", "make_unit", "UNITS"]


def _check_x(x: torch.Tensor, d: int, who: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: x must be a torch.Tensor of shape (B, {d}), got {type(x).__name__}")
    if x.ndim < 2 or x.shape[-1] != d:
        raise ValueError(f"{who}: x must have shape (B, {d}) (or (..., B, {d})), got {tuple(x.shape)}")


def _with_one(x: torch.Tensor) -> torch.Tensor:
    """[x, 1] (..., B, d + 1): the input of the bias."""
    return torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)


# One member's (B, n) block is contracted by a matrix-vector product (BLAS gemv), a batch of members by a
# batched product with a column: on the CPU gemv beats a batched product of batch size 1.
def _mv(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sum_i h_bi w_i, shape (..., B); h (..., B, n), w (..., n)."""
    return h @ w if h.ndim == 2 else (h @ w[..., None])[..., 0]


def _vm(r: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """sum_b r_b h_bi, shape (..., n); r (..., B), h (..., B, n)."""
    return r @ h if h.ndim == 2 else (r[..., None, :] @ h)[..., 0, :]


class Unit:
    """Abstract unit family. Subclasses set ``name`` and implement ``phi``/``vjp``.

    Attributes
    ----------
    d : input dimension.
    p : number of parameters per particle (columns of theta).
    homogeneous : degree of positive homogeneity in theta (2 for ReLU), or None.
    """

    name: str = "unit"
    homogeneous: int | None = None

    def __init__(self, d: int):
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"input dimension d must be a positive integer, got {d!r}")
        self.d = d

    @property
    def p(self) -> int:
        raise NotImplementedError

    def phi(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """Features phi(x_b; theta_i), shape (..., B, n); x (..., B, d), theta (..., n, p)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, theta: torch.Tensor, v: torch.Tensor):
        """sum_i v_i phi(x_b; theta_i), shape (..., B), and a cache that :meth:`vjp` may reuse (and overwrite)."""
        return _mv(self.phi(x, theta), v), None

    def vjp(self, x: torch.Tensor, theta: torch.Tensor, r: torch.Tensor, cache=None) -> torch.Tensor:
        """sum_b r_b grad_theta phi(x_b; theta_i), shape (..., n, p); r (..., B). Default: autograd."""
        theta = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            out = _vm(r, self.phi(x, theta)).sum()
            (g,) = torch.autograd.grad(out, theta)
        return g

    def project(self, theta: torch.Tensor) -> torch.Tensor:
        """Retraction onto the constraint set (identity for unconstrained units)."""
        return theta

    def project_grad(self, theta: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Tangent projection of a gradient (identity for unconstrained units)."""
        return g

    def output_mask(self, theta: torch.Tensor) -> torch.Tensor:
        """Boolean column mask of the output weight(s) (column 0)."""
        m = torch.zeros(theta.shape[-1], dtype=torch.bool, device=theta.device)
        m[0] = True
        return m

    def check_theta(self, theta: torch.Tensor) -> None:
        if not isinstance(theta, torch.Tensor):
            raise TypeError(f"theta must be a torch.Tensor of shape (n, {self.p}), got {type(theta).__name__}")
        if theta.ndim != 2 or theta.shape[1] != self.p:
            raise ValueError(f"{self.name} unit: theta must have shape (n, {self.p}), got {tuple(theta.shape)}")
        if theta.shape[0] < 1:
            raise ValueError("a particle measure needs at least one particle (n >= 1)")

    def init(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        kind: str = "gaussian",
        c_scale: float = 1.0,
        w_scale: float = 1.0,
    ) -> torch.Tensor:
        """Draw n i.i.d. particles, shape (n, p).

        kind:
          ``"gaussian"``: c ~ N(0, c_scale^2), inner ~ N(0, w_scale^2 / d) per coordinate.
          ``"sphere"``: theta/|theta| uniform on S^{p-1}, radius c_scale (Chizat–Bach's
          condition for 2-homogeneous units: full support, both output signs).
          ``"zero_c"``: c = 0, inner Gaussian (partially 1-homogeneous units).
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"number of particles n must be a positive integer, got {n!r}")
        g = torch.randn(n, self.p, generator=generator, dtype=dtype, device=device)
        if kind == "sphere":
            theta = c_scale * g / g.norm(dim=1, keepdim=True)
        elif kind in ("gaussian", "zero_c"):
            theta = g.clone()
            theta[:, 0] *= c_scale
            theta[:, 1:] *= w_scale / math.sqrt(self.d)
            if kind == "zero_c":
                theta[:, 0] = 0.0
        else:
            raise ValueError(f"unknown init kind {kind!r}; choose 'gaussian', 'sphere' or 'zero_c'")
        return self.project(theta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d})"

    def spec(self) -> dict:
        """JSON-ready description (used by Trajectory.save)."""
        return {"name": self.name, "d": self.d}


class ReLU(Unit):
    r"""2-homogeneous ReLU unit  phi(x; (c, w)) = c relu(w . x)  (Chizat–Bach 2018).

    With ``bias=True`` a constant coordinate 1 is appended to x, so the bias is
    the last coordinate of w and the unit stays 2-homogeneous in theta.
    """

    name = "relu"
    homogeneous = 2

    def __init__(self, d: int, bias: bool = False):
        super().__init__(d)
        self.bias = bool(bias)

    @property
    def p(self) -> int:
        return 1 + self.d + int(self.bias)

    def _x(self, x: torch.Tensor) -> torch.Tensor:
        _check_x(x, self.d, "ReLU.phi")
        return _with_one(x) if self.bias else x

    def phi(self, x, theta):
        return torch.relu(self._x(x) @ theta[..., 1:].mT) * theta[..., None, :, 0]  # (..., B, n)

    def forward(self, x, theta, v):
        act = torch.relu_(self._x(x) @ theta[..., 1:].mT)  # (..., B, n), in place: one pass over memory
        return _mv(act, theta[..., 0] * v), act

    def vjp(self, x, theta, r, cache=None):
        x = self._x(x)
        act = cache if cache is not None else torch.relu_(x @ theta[..., 1:].mT)  # (..., B, n)
        # relu backward in one fused pass: r_b where act > 0, else 0
        gz = torch.ops.aten.threshold_backward(r[..., None].expand_as(act), act, 0)  # (..., B, n)
        gw = (x.mT @ gz).mT * theta[..., 0:1]  # x^T gz, not gz^T x: 6x faster on CPU (B = 204, n = 1024)
        return torch.cat([_vm(r, act)[..., None], gw], dim=-1)

    def spec(self):
        return {"name": self.name, "d": self.d, "bias": self.bias}


class _Ridge(Unit):
    """c * h(w . x + b): sigmoid / tanh units with bias (RVE §4.2). The step kernels pass over an activation
    block three times (z, h applied in place; r h'(z) fused, over h; [x, 1]^T g_z for w and b at once): 4x less
    CPU than separate passes (n = 1024). One member's block, too, is contracted by batched products."""

    _backward: Any = None  # aten kernel (grad, h(z)) -> grad * h'(z) in one fused pass

    @property
    def p(self) -> int:
        return self.d + 2

    def _act_(self, z: torch.Tensor) -> torch.Tensor:  # h(z), in place
        raise NotImplementedError

    def _h(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """h(z) (..., B, n), z = [x, 1] [w, b]^T: one product, 2x faster on the CPU than b + x w^T."""
        return self._act_(_with_one(x) @ theta[..., 1:].mT)

    def phi(self, x, theta):
        _check_x(x, self.d, f"{self.name}.phi")
        return self._h(x, theta) * theta[..., None, :, 0]

    def forward(self, x, theta, v):
        """sum_i v_i phi(x_b; theta_i) (..., B) and h(z) (..., B, n); x (..., B, d), theta (..., n, p)."""
        _check_x(x, self.d, f"{self.name}.forward")
        h = self._h(x, theta)  # (..., B, n)
        return (h @ (theta[..., 0] * v)[..., None])[..., 0], h

    def vjp(self, x, theta, r, cache=None):
        """sum_b r_b grad_theta phi(x_b; theta_i) (..., n, p); ``cache`` (h from :meth:`forward`) is overwritten."""
        _check_x(x, self.d, f"{self.name}.vjp")
        h = cache if cache is not None else self._h(x, theta)
        g_c = (r[..., None, :] @ h).mT  # (..., n, 1)
        gz = self._backward.grad_input(r[..., None].expand_as(h), h, grad_input=h)  # r_b h'(z_bi), over h
        gw = (_with_one(x).mT @ gz).mT * theta[..., 0:1]  # [x,1]^T gz, 6x faster than gz^T [x,1]
        return torch.cat([g_c, gw], dim=-1)


class Sigmoid(_Ridge):
    r"""phi(x; (c, w, b)) = c sigmoid(w . x + b)."""

    name = "sigmoid"
    _backward = torch.ops.aten.sigmoid_backward

    def _act_(self, z):
        return torch.sigmoid_(z)


class Tanh(_Ridge):
    r"""phi(x; (c, w, b)) = c tanh(w . x + b)."""

    name = "tanh"
    _backward = torch.ops.aten.tanh_backward

    def _act_(self, z):
        return torch.tanh_(z)


class PiecewiseLinear(Unit):
    r"""MMN unit without output weight: phi(x; w) = s(|...|) with s piecewise linear.

    ``phi(x; (c, w)) = c * s(w . x)`` where s(z) = s1 for z <= t1, s2 for z >= t2, linear between
    (Mei–Montanari–Nguyen 2018, isotropic Gaussians). ``c`` is kept in column 0 for a uniform
    layout; freeze it with ``eta_output=0`` to obtain the paper's setting.
    """

    name = "pwlinear"

    def __init__(self, d: int, t1: float = 0.5, t2: float = 1.5, s1: float = -2.5, s2: float = 7.5):
        super().__init__(d)
        if not t2 > t1:
            raise ValueError("PiecewiseLinear needs t2 > t1")
        self.t1, self.t2, self.s1, self.s2 = float(t1), float(t2), float(s1), float(s2)

    @property
    def p(self) -> int:
        return 1 + self.d

    def s(self, z):
        u = ((z - self.t1) / (self.t2 - self.t1)).clamp(0.0, 1.0)
        return self.s1 + (self.s2 - self.s1) * u

    def ds(self, z):
        inside = (z > self.t1) & (z < self.t2)
        return inside.to(z.dtype) * (self.s2 - self.s1) / (self.t2 - self.t1)

    def phi(self, x, theta):
        _check_x(x, self.d, "PiecewiseLinear.phi")
        return self.s(x @ theta[..., 1:].mT) * theta[..., None, :, 0]

    def forward(self, x, theta, v):
        _check_x(x, self.d, "PiecewiseLinear.forward")
        z = x @ theta[..., 1:].mT  # (..., B, n)
        return _mv(self.s(z), theta[..., 0] * v), z

    def vjp(self, x, theta, r, cache=None):
        z = cache if cache is not None else x @ theta[..., 1:].mT
        gw = (x.mT @ (self.ds(z) * r[..., None])).mT * theta[..., 0:1]
        return torch.cat([_vm(r, self.s(z))[..., None], gw], dim=-1)

    def spec(self):
        return {"name": self.name, "d": self.d, "t1": self.t1, "t2": self.t2, "s1": self.s1, "s2": self.s2}


class RBFSphere(Unit):
    r"""Gaussian RBF unit on the sphere (RVE §4.1).

    phi(x; (c, z)) = c exp(-kappa |x - z|^2 / 2),  z in S^{d-1}(sqrt d),  kappa = 5/d by default.

    Positions stay on the sphere: ``project`` rescales z to radius sqrt(d) (a retraction) and
    ``project_grad`` removes the radial component of the gradient.
    """

    name = "rbf"

    def __init__(self, d: int, kappa: float | None = None):
        super().__init__(d)
        self.kappa = float(kappa) if kappa is not None else 5.0 / d
        self.radius = math.sqrt(d)

    @property
    def p(self) -> int:
        return 1 + self.d

    def _e(self, x, z):  # exp(-kappa |x - z|^2 / 2): (..., B, d), (..., n, d) -> (..., B, n)
        sq = (x * x).sum(-1)[..., :, None] + (z * z).sum(-1)[..., None, :] - 2 * x @ z.mT
        return torch.exp(-0.5 * self.kappa * sq)

    def phi(self, x, theta):
        _check_x(x, self.d, "RBFSphere.phi")
        return self._e(x, theta[..., 1:]) * theta[..., None, :, 0]

    def forward(self, x, theta, v):
        _check_x(x, self.d, "RBFSphere.forward")
        e = self._e(x, theta[..., 1:])
        return _mv(e, theta[..., 0] * v), e

    def vjp(self, x, theta, r, cache=None):
        z = theta[..., 1:]
        e = cache if cache is not None else self._e(x, z)
        er = e * r[..., None]  # (..., B, n)
        # d/dz exp(-k|x-z|^2/2) = k (x - z) exp(...)
        gz = self.kappa * theta[..., 0:1] * ((x.mT @ er).mT - er.sum(-2)[..., None] * z)
        return torch.cat([_vm(r, e)[..., None], gz], dim=-1)

    def project(self, theta):
        z = theta[..., 1:]
        out = theta.clone()
        out[..., 1:] = z * (self.radius / z.norm(dim=-1, keepdim=True).clamp_min(1e-300))
        return out

    def project_grad(self, theta, g):
        z = theta[..., 1:]
        gz = g[..., 1:]
        radial = (gz * z).sum(-1, keepdim=True) / (z * z).sum(-1, keepdim=True)
        out = g.clone()
        out[..., 1:] = gz - radial * z
        return out

    def init(self, n, *, generator=None, dtype=torch.float32, device="cpu", kind="sphere", c_scale=1.0, w_scale=1.0):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"number of particles n must be a positive integer, got {n!r}")
        theta = torch.randn(n, self.p, generator=generator, dtype=dtype, device=device)
        theta[:, 0] = 0.0 if kind == "zero_c" else theta[:, 0] * c_scale
        return self.project(theta)

    def spec(self):
        return {"name": self.name, "d": self.d, "kappa": self.kappa}


UNITS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "rbf": RBFSphere, "pwlinear": PiecewiseLinear}

# Families of modules above this one register spec readers on import (wgflow.measures.linearized: "tangent");
# _PROVIDERS names the module to import when such a spec is read first. No import of an upper module.
_READERS: dict[str, Callable[[dict], Unit]] = {}
_PROVIDERS = {"tangent": "wgflow.measures.linearized"}


def register_unit_reader(name: str, read: Callable[[dict], Unit]) -> None:
    """Let :func:`make_unit` rebuild the family ``name`` from its :meth:`Unit.spec` dict."""
    _READERS[name] = read


def make_unit(spec: dict | str, d: int | None = None) -> Unit:
    """Build a unit from a name (``"relu"``) or a :meth:`Unit.spec` dict."""
    if isinstance(spec, str):
        spec = {"name": spec, "d": d}
    spec = dict(spec)
    if (name := spec.pop("name")) in _PROVIDERS and name not in _READERS:
        importlib.import_module(_PROVIDERS[name])
    if name in _READERS:
        return _READERS[name](spec)
    if name not in UNITS:
        raise ValueError(f"unknown unit family {name!r}; choose one of: {', '.join([*UNITS, *_PROVIDERS])}")
    return UNITS[name](**spec)
