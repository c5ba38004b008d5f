r"""The regularised training objective of a residual model and the one training loop.

.. math::

    E_L(\theta) = \underbrace{\tfrac1m \sum_i \ell(C X_L^{(i)} + c, y_i)}_{\text{fit}}
      + \alpha \tfrac1L \sum_k (|A_k|^2 + |b_k|^2)
      + \beta L \sum_k (|A_{k+1} - A_k|^2 + |b_{k+1} - b_k|^2)
      + \rho (|E|^2 + |C|^2 + |c|^2) + \gamma |\theta|^2 ,

the discrete energy of Thorpe & van Gennip (2023, arXiv 1810.11741), whose Γ-limit as
L -> ∞ is fit + α∫(|A|²+|b|²) + β∫(|Ȧ|²+|ḃ|²) under Ẋ = σ(AX + b); γ is the plain weight
decay (L2 coefficient) of Gai & Zhang (2021, arXiv 2102.09235). ℓ is cross-entropy
(integer labels) or ½|·|² (targets). Every coefficient may be 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..control import training_disabled

if TYPE_CHECKING:  # the two model families the objective reads (L, layer_params, E, C, c)
    from .ode import NeuralODE
    from .stacks import ResidualStack

__all__ = ["ObjectiveConfig", "regularised_objective", "train_residual", "train_multistart", "TrainResult"]


@dataclass(frozen=True)
class ObjectiveConfig:
    loss: str = "ce"  # "ce" (labels) or "square" (targets)
    alpha: float = 0.0  # magnitude penalty (1/L) Σ |A_k|² + |b_k|² (also |W_k|²)
    beta: float = 0.0  # finite-difference penalty L Σ |Δ A|² + |Δ b|² (also ΔW)
    rho: float = 0.0  # embedding / readout penalty
    gamma: float = 0.0  # weight decay on every parameter


def regularised_objective(
    model: ResidualStack | NeuralODE, x: torch.Tensor, y: torch.Tensor, cfg: ObjectiveConfig = ObjectiveConfig()
) -> dict[str, torch.Tensor | float]:
    """Terms {"fit", "magnitude", "fd", "readout", "decay", "total"} of E_L at (x (m, d), y)."""
    out = model(x)  # (m, n_out)
    if cfg.loss == "ce":
        fit = nn.functional.cross_entropy(out, y)
    elif cfg.loss == "square":
        fit = 0.5 * ((out - y.reshape(out.shape)) ** 2).sum(-1).mean()
    else:
        raise ValueError("loss must be 'ce' or 'square'")
    L = model.L
    P = model.layer_params()
    mag = sum((p**2).sum() for p in P.values()) / L
    fd = L * sum((torch.diff(p, dim=0) ** 2).sum() for p in P.values())
    ro = sum((p**2).sum() for p in (model.E, model.C, model.c) if p is not None)
    decay = sum((p**2).sum() for p in model.parameters())
    total = fit + cfg.alpha * mag + cfg.beta * fd + cfg.rho * ro + cfg.gamma * decay
    return {"fit": fit, "magnitude": mag, "fd": fd, "readout": ro, "decay": decay, "total": total}


@dataclass
class TrainResult:
    """Final objective terms, the history of the total (one entry per step) and the initial total."""

    terms: dict[str, float]
    history: list[float] = field(default_factory=list)
    initial: float = float("nan")  # the total at the initialisation (equal to terms["total"] when untrained)


def _make_optimizer(
    optimizer: str, params: list[torch.Tensor], lr: float
) -> torch.optim.LBFGS | torch.optim.Adam | torch.optim.SGD:
    """The torch optimiser named ``optimizer`` over ``params`` (L-BFGS with the strong-Wolfe line search)."""
    if optimizer == "lbfgs":
        return torch.optim.LBFGS(
            params,
            lr=lr,
            max_iter=20,
            history_size=50,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-12,
            tolerance_change=1e-15,
        )
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    if optimizer == "gd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError("optimizer must be 'lbfgs', 'adam' or 'gd'")


def train_residual(
    model: ResidualStack | NeuralODE,
    x: torch.Tensor,
    y: torch.Tensor,
    obj: ObjectiveConfig = ObjectiveConfig(),
    *,
    optimizer: str = "lbfgs",
    steps: int = 200,
    lr: float = 1.0,
    tol: float = 1e-12,
    callback: Callable[[int, nn.Module], None] | None = None,
) -> TrainResult:
    """Full-batch minimisation of :func:`regularised_objective` (``"lbfgs"``, ``"adam"`` or ``"gd"``).

    L-BFGS uses the strong-Wolfe line search and stops when the objective changes by less
    than ``tol`` (relative); it is the default because the deep-limit claims compare
    *minimisers*, which first-order methods reach too slowly. ``callback(step, model)``
    runs before every step and once at the end (snapshots of tracks). Under
    :func:`wgflow.control.untrained` no step is taken (the model stays at its initialisation).
    """
    opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)

    def closure():
        opt.zero_grad()
        v = regularised_objective(model, x, y, obj)["total"]
        assert isinstance(v, torch.Tensor)  # the total carries the graph (the terms may be floats)
        v.backward()
        return v

    hist: list[float] = []
    with torch.no_grad():
        initial = float(regularised_objective(model, x, y, obj)["total"])
    frozen = training_disabled()  # negative control: the callbacks see the initial model at every step
    for s in range(steps):
        if callback is not None:
            callback(s, model)
        if frozen:
            continue
        v = float(opt.step(closure).detach())
        if v != v or abs(v) == float("inf"):
            raise FloatingPointError("objective diverged; lower lr or use optimizer='lbfgs'")
        hist.append(v)
        if optimizer == "lbfgs" and s > 0 and abs(hist[-2] - v) <= tol * max(1.0, abs(v)):
            break
    if callback is not None:
        callback(steps, model)
    with torch.no_grad():
        terms = {k: float(t) for k, t in regularised_objective(model, x, y, obj).items()}
    return TrainResult(terms, hist, initial)


def train_multistart(
    make_model: Callable[[int], ResidualStack | NeuralODE],
    restarts: int,
    x: torch.Tensor,
    y: torch.Tensor,
    obj: ObjectiveConfig = ObjectiveConfig(),
    **kw,
) -> tuple[ResidualStack | NeuralODE, TrainResult, list[float]]:
    """Best of ``restarts`` runs of :func:`train_residual` (lowest final objective).

    ``make_model(r)`` builds start ``r`` (its own initialisation); ``kw`` go to
    :func:`train_residual`. Returns the best model, its result and every start's final
    objective (a cheap approximation of the *global* minimiser on non-convex energies).
    """
    if restarts < 1:
        raise ValueError("restarts must be >= 1")
    best: tuple[ResidualStack | NeuralODE, TrainResult] | None = None
    totals: list[float] = []
    for r in range(restarts):
        model = make_model(r)
        res = train_residual(model, x, y, obj, **kw)
        totals.append(res.terms["total"])
        if best is None or res.terms["total"] < best[1].terms["total"]:
            best = (model, res)
    assert best is not None  # restarts >= 1
    return best[0], best[1], totals
