r"""Residual stacks of depth L (forward Euler of an ODE) and their plain counterparts.

.. math::

    X_{k+1} = X_k + \tfrac1L \sigma(A_k X_k + b_k)                (``variant="A"``)
    X_{k+1} = X_k + \tfrac1L W_k \sigma(A_k X_k + b_k)            (``variant="WA"``)
    X_{k+1} = W_k \sigma(A_k X_k + b_k)  \text{ or } \sigma(A_k X_k + b_k)   (plain, no skip)

with X_0 = E x (input embedding, or x itself when d = k) and output C X_L + c.
Thorpe & van Gennip (2023, arXiv 1810.11741) study variant A; Gai & Zhang (2021,
arXiv 2102.09235) compare residual and plain stacks of equal width and depth.

Samples are rows: x (m, d), X_k (m, k); A (L, q, k), b (L, q), W (L, k, q) with q = k for
variant A. ``tracks(x)`` returns every hidden state (L+1, m, k).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResidualStack", "activation"]

_ACT = {"tanh": torch.tanh, "relu": torch.relu, "softplus": nn.functional.softplus}


def activation(name: str):
    try:
        return _ACT[name]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(_ACT)}") from None


class ResidualStack(nn.Module):
    """A depth-L, width-k stack with input embedding and linear readout.

    ``residual=False`` gives the plain network of the same widths (no skip, no 1/L).
    ``embed=False`` requires d == k and uses X_0 = x (tracks live in input space).
    """

    def __init__(
        self,
        d: int,
        k: int,
        L: int,
        n_out: int,
        *,
        variant: str = "A",
        hidden: int | None = None,
        residual: bool = True,
        act: str = "tanh",
        embed: bool = True,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
        dtype=torch.float64,
    ):
        super().__init__()
        if variant not in ("A", "WA"):
            raise ValueError("variant must be 'A' or 'WA'")
        q = k if variant == "A" else (hidden or k)
        if not embed and d != k:
            raise ValueError("embed=False needs d == k")
        self.d, self.k, self.L, self.variant, self.residual, self.act = d, k, L, variant, residual, act
        self.branch_scale = 1.0  # s in X + (s/L) branch(X): the transport-matched baseline rescales it

        def rnd(*shape, s):
            return nn.Parameter(s * torch.randn(*shape, generator=generator, dtype=dtype))

        self.A = rnd(L, q, k, s=scale / k**0.5)  # (L, q, k)
        self.b = rnd(L, q, s=scale * 0.1)  # (L, q)
        self.W = rnd(L, k, q, s=scale / q**0.5) if variant == "WA" else None  # (L, k, q)
        self.E = rnd(k, d, s=1.0 / d**0.5) if embed else None  # (k, d)
        self.C = rnd(n_out, k, s=1.0 / k**0.5)  # (n_out, k)
        self.c = nn.Parameter(torch.zeros(n_out, dtype=dtype))

    def layer_params(self) -> dict[str, torch.Tensor]:
        """The depth-indexed parameters {name: (L, ...)} (what paths and penalties act on)."""
        out = {"A": self.A, "b": self.b}
        if self.W is not None:
            out["W"] = self.W
        return out

    def unit_paths(self) -> torch.Tensor:
        """Hidden units as paths in depth, (L, q, 2k+1): unit i of layer l is (A_li, b_li, W_l[:, i]).

        Variant "WA" only: there a layer is invariant under permutations (and, for odd σ,
        sign flips) of its units, see :func:`wgflow.residual.paths.aligned_unit_distance`.
        """
        if self.W is None:
            raise ValueError("unit_paths needs variant 'WA' (variant 'A' has no exchangeable hidden units)")
        return torch.cat([self.A, self.b[..., None], self.W.transpose(1, 2)], -1).detach()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.E is None else x @ self.E.T  # (m, k)

    def step(self, X: torch.Tensor, i: int) -> torch.Tensor:
        s = activation(self.act)
        V = s(X @ self.A[i].T + self.b[i])  # (m, q)
        if self.W is not None:
            V = V @ self.W[i].T  # (m, k)
        return X + self.branch_scale * V / self.L if self.residual else V

    def tracks(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states of every layer, (L+1, m, k)."""
        X = self.embed(x)
        out = [X]
        for i in range(self.L):
            X = self.step(X, i)
            out.append(X)
        return torch.stack(out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        X = self.embed(x)
        for i in range(self.L):
            X = self.step(X, i)
        return X  # (m, k)

    def readout(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.C.T + self.c  # (m, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))
