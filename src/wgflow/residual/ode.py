r"""The continuous-depth (neural ODE) model, the deep limit of :class:`ResidualStack`.

.. math::

    \dot X(t) = \sigma(A(t) X(t) + b(t)), \quad t \in [0, 1], \qquad X(0) = E x, \quad
    \hat y = C X(1) + c,

with A, b piecewise linear through M nodes at the cell midpoints (k + 1/2)/M
(:mod:`wgflow.residual.paths`), solved by torchdiffeq's ``odeint`` (Chen et al. 2018):
adaptive ``dopri5`` or fixed-step ``euler`` / ``midpoint`` / ``rk4``. This is the
ODE-constrained problem of Thorpe & van Gennip (2023, arXiv 1810.11741) with the parameter
path restricted to M-node piecewise-linear functions; its H^1 penalty is then exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from .paths import eval_path
from .stacks import activation

__all__ = ["NeuralODE"]


class _Field(nn.Module):
    def __init__(self, model: NeuralODE):
        super().__init__()
        self.m = model

    def forward(self, t, X):  # X (m, k)
        tt = t.reshape(1).to(X.dtype)
        A = eval_path(self.m.A, tt)[0]  # (k, k)
        b = eval_path(self.m.b, tt)[0]  # (k,)
        return activation(self.m.act)(X @ A.T + b)


class NeuralODE(nn.Module):
    """Trainable continuous-depth model; same parameter names as ``ResidualStack`` (variant A).

    ``method`` and ``options`` go to ``odeint``; with a fixed-step method the default step
    is 1/(4M), so every node interval is resolved (the field has kinks at the nodes).
    ``adjoint=True`` backpropagates by solving the adjoint ODE backwards (torchdiffeq's
    ``odeint_adjoint``, Chen et al. 2018): memory independent of the number of solver steps,
    gradients exact up to the solver's tolerance instead of to round-off.
    """

    def __init__(
        self,
        d: int,
        k: int,
        M: int,
        n_out: int,
        *,
        act: str = "tanh",
        embed: bool = True,
        method: str = "rk4",
        step_size: float | None = None,
        rtol: float = 1e-7,
        atol: float = 1e-9,
        adjoint: bool = False,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
        dtype=torch.float64,
    ):
        super().__init__()
        self.d, self.k, self.L, self.act = d, k, M, act
        self.method, self.step_size, self.rtol, self.atol, self.adjoint = method, step_size, rtol, atol, adjoint
        g = generator
        self.A = nn.Parameter(scale / k**0.5 * torch.randn(M, k, k, generator=g, dtype=dtype))  # (M, k, k)
        self.b = nn.Parameter(0.1 * scale * torch.randn(M, k, generator=g, dtype=dtype))  # (M, k)
        self.E = nn.Parameter(torch.randn(k, d, generator=g, dtype=dtype) / d**0.5) if embed else None
        self.C = nn.Parameter(torch.randn(n_out, k, generator=g, dtype=dtype) / k**0.5)
        self.c = nn.Parameter(torch.zeros(n_out, dtype=dtype))
        self.W = None

    def layer_params(self) -> dict[str, torch.Tensor]:
        return {"A": self.A, "b": self.b}

    def embed(self, x):
        return x if self.E is None else x @ self.E.T

    def solve(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at the times ``t`` (T,), shape (T, m, k)."""
        X0 = self.embed(x)
        opts = {}
        if self.method in ("euler", "midpoint", "rk4"):
            opts["step_size"] = self.step_size or 1.0 / (4 * self.L)
        kw: dict[str, Any] = {"rtol": self.rtol, "atol": self.atol} if self.method == "dopri5" else {}
        if self.adjoint:  # the adjoint's parameters are this model's path nodes
            kw["adjoint_params"] = tuple(self.layer_params().values())
        solver = odeint_adjoint if self.adjoint else odeint
        return solver(_Field(self), X0, t.to(X0.dtype), method=self.method, options=opts, **kw)

    def tracks(self, x: torch.Tensor, n_times: int | None = None) -> torch.Tensor:
        n = n_times or self.L
        return self.solve(x, torch.linspace(0, 1, n + 1, dtype=x.dtype))

    def features(self, x):
        return self.solve(x, torch.tensor([0.0, 1.0], dtype=x.dtype))[-1]

    def readout(self, X):
        return X @ self.C.T + self.c

    def forward(self, x):
        return self.readout(self.features(x))
