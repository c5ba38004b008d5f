r"""The 3-spin target of Rotskoff & Vanden-Eijnden on the sphere S^{d-1}(sqrt d).

.. math::

    f(x) = \frac1d \sum_{p,q,r=1}^{d} a_{pqr} x_p x_q x_r,
    \qquad a_{pqr} \sim N(0, 1) \text{ i.i.d.}, \qquad |x|^2 = d

(Rotskoff & Vanden-Eijnden 2018/2022, §4, "p-spin" target with p = 3). Only the
symmetrised tensor S = sym(a) (mean of the 6 index permutations) enters f, so

    f(x) = (1/d) S(x, x, x),       grad f(x) = (3/d) S(x, x, .)
         = (1/d) sum_{q,r} (a_pqr + a_qpr + a_qrp) x_q x_r.

Moments for x uniform on S^{d-1}(sqrt d): E f = 0 (f is odd) and, writing
x = sqrt(d) g/|g| with g ~ N(0, I_d) independent of |g| and E|g|^6 = d(d+2)(d+4),
E[x_p x_q x_r x_s x_t x_u] = d^3/(d(d+2)(d+4)) E[g_p ... g_u]; Wick's theorem
(6 crossed pairings, 9 with one pair inside each triple) gives

.. math::

    \operatorname{Var} f = E f^2 = \frac{6 \|S\|_F^2 + 9 |v|^2}{(d+2)(d+4)},
    \qquad v_r = \sum_p S_{ppr}.

For large d, 6 |S|_F^2 ~ d^3, so Var f ~ d (the paper's loss at small n is ~ d/2).

References
----------
1. G. M. Rotskoff & E. Vanden-Eijnden, "Trainability and accuracy of artificial neural
   networks: an interacting particle system approach", arXiv:1805.00915; CPAM 75 (2022), §4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import permutations

import torch

from .teacher import sphere_sampler

__all__ = ["ThreeSpin", "StackedThreeSpin", "symmetrize"]

#: bytes of the (B, d, d) partial contraction per batch chunk; bounds memory for any B.
_CHUNK_BYTES = 16 * 2**20


def symmetrize(a: torch.Tensor) -> torch.Tensor:
    """Mean of a (d, d, d) tensor over the 6 permutations of its indices."""
    return sum((a.permute(*p) for p in permutations(range(3))), torch.zeros_like(a)) / 6.0


@dataclass(frozen=True, eq=False)
class ThreeSpin:
    r"""f(x) = (1/d) sum a_pqr x_p x_q x_r with a (d, d, d); call it as ``f(x) -> (B,)``.

    ``a`` is kept as drawn (not symmetric); ``S`` is its symmetrisation, which is all that
    f and its gradient depend on. Evaluation contracts one index at a time,
    M = x . S (B, d, d), then u = M x (B, d), streaming over batch chunks of ~16 MiB.
    """

    a: torch.Tensor  # (d, d, d)
    # derived in __post_init__ (not fields: equality and repr are those of a)
    S: torch.Tensor = field(init=False, repr=False)  # symmetrised a, float64
    _cast: dict = field(init=False, repr=False)

    def __post_init__(self):
        a = self.a
        if a.ndim != 3 or not (a.shape[0] == a.shape[1] == a.shape[2]):
            raise ValueError(f"ThreeSpin: a must have shape (d, d, d), got {tuple(a.shape)}")
        object.__setattr__(self, "S", symmetrize(a.to(torch.float64)))
        object.__setattr__(self, "_cast", {})  # S as (d, d^2) per (dtype, device): no conversion per call

    @classmethod
    def random(cls, d: int, *, seed: int | None = None, generator: torch.Generator | None = None) -> ThreeSpin:
        """a_pqr i.i.d. N(0, 1) drawn in float64 from ``seed`` (or ``generator``)."""
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"d must be a positive integer, got {d!r}")
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        return cls(torch.randn(d, d, d, generator=generator, dtype=torch.float64))

    @property
    def d(self) -> int:
        return self.a.shape[0]

    def sampler(self):
        """x uniform on S^{d-1}(sqrt d): ``sample(B, generator=, dtype=) -> (B, d)``."""
        return sphere_sampler(self.d)

    def _u(self, x: torch.Tensor) -> torch.Tensor:
        """u = S(x, x, .) (B, d), chunked so the (B, d, d) contraction stays under ~16 MiB."""
        d = self.d
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"ThreeSpin: x must have shape (B, {d}), got {tuple(x.shape)}")
        key = (x.dtype, str(x.device))
        if key not in self._cast:
            self._cast[key] = self.S.to(device=x.device, dtype=x.dtype).reshape(d, d * d)
        S = self._cast[key]
        chunk = max(1, _CHUNK_BYTES // (d * d * x.element_size()))
        out = torch.empty_like(x)
        for s in range(0, x.shape[0], chunk):
            xb = x[s : s + chunk]
            M = (xb @ S).reshape(-1, d, d)  # (b, d, d): M_bqr = sum_p x_bp S_pqr
            out[s : s + chunk] = torch.bmm(M, xb[:, :, None])[:, :, 0]  # (b, d)
        return out

    @staticmethod
    def stack(targets: list[ThreeSpin]) -> StackedThreeSpin:
        """E targets of one dimension evaluated together on x (E, B, d) (used by ensembles)."""
        return StackedThreeSpin(targets)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) (B,)."""
        return (self._u(x) * x).sum(1) / self.d

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """grad f(x) = (3/d) S(x, x, .) (B, d) (Euclidean gradient in R^d)."""
        return 3.0 * self._u(x) / self.d

    def variance(self) -> float:
        """Var f = E f^2 = (6 |S|_F^2 + 9 |v|^2) / ((d+2)(d+4)) for x uniform on S^{d-1}(sqrt d)."""
        d, S = self.d, self.S
        v = torch.einsum("ppr->r", S)
        return float((6 * (S * S).sum() + 9 * (v * v).sum()) / ((d + 2) * (d + 4)))

    def great_circle(self, m: int = 200, seed: int = 0, dtype=torch.float64):
        """Angles s (m,) and points x(s) = sqrt(d)(cos s e1 + sin s e2) (m, d) on a random great circle."""
        g = torch.Generator().manual_seed(int(seed))
        e = torch.linalg.qr(torch.randn(self.d, 2, generator=g, dtype=dtype))[0]  # (d, 2) orthonormal
        s = torch.linspace(0, 2 * math.pi, m, dtype=dtype)
        x = math.sqrt(self.d) * (torch.cos(s)[:, None] * e[:, 0] + torch.sin(s)[:, None] * e[:, 1])
        return s, x


class StackedThreeSpin:
    """f^e(x^e_b) for E 3-spin targets of one dimension: ``f(x (E, B, d)) -> (E, B)``, batched matmuls."""

    def __init__(self, targets: list[ThreeSpin]):
        if len({t.d for t in targets}) != 1:
            raise ValueError("StackedThreeSpin: targets must share the dimension d")
        self.d = targets[0].d
        self.S = torch.stack([t.S for t in targets]).reshape(len(targets), self.d, self.d * self.d)
        self._cast: dict = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        E, B, d = x.shape
        key = (x.dtype, str(x.device))
        if key not in self._cast:
            self._cast[key] = self.S.to(device=x.device, dtype=x.dtype)
        S = self._cast[key]
        chunk = max(1, _CHUNK_BYTES // (E * d * d * x.element_size()))
        out = torch.empty(E, B, dtype=x.dtype, device=x.device)
        for s in range(0, B, chunk):
            xb = x[:, s : s + chunk]  # (E, b, d)
            M = torch.bmm(xb, S)  # (E, b, d^2): M_eb(qr) = sum_p x_ebp S_epqr
            xx = (xb[..., :, None] * xb[..., None, :]).reshape(M.shape)  # x_q x_r, (E, b, d^2)
            out[:, s : s + chunk] = (M * xx).sum(-1) / d  # elementwise: no (d x d) matmul per sample
        return out
