"""The update of one step of a particle flow (:class:`StepScheme`) and the early stopping of a flow (:class:`StopRule`).

The step is that of :mod:`wgflow.flows.config`; :func:`wgflow.flows.train` runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..measures.measure import Ensemble
from .config import FlowConfig

__all__ = ["StepScheme", "StopRule"]


@dataclasses.dataclass(frozen=True)
class StopRule:
    """Early stopping of :func:`wgflow.flows.train`: every ``every`` steps ``test(ensemble)`` -> (E,) bools, True: done
    (the module docstring of :mod:`wgflow.flows.train`)."""

    test: Callable[[Ensemble], Any]
    every: int = 100

    def __post_init__(self):
        if not callable(self.test) or int(self.every) < 1:
            raise ValueError(f"StopRule needs a callable test and every >= 1, got {self.test!r}, {self.every!r}")


class StepScheme:
    r"""theta <- project(theta - eta_k M (G + wd theta) + sqrt(2 lambda_k eta_k M) xi), schedules cached.

    theta (E, n, p); member e's noise comes from ``generators[e]``. With ``step_rule = "output_rms"``
    eta_k is member e's eta_k max(1, rms c_e) (:mod:`wgflow.flows.config`).
    """

    def __init__(self, cfg: FlowConfig, unit, theta: torch.Tensor):
        self.cfg, self.unit = cfg, unit
        M = torch.full((theta.shape[-1],), cfg.eta_inner, dtype=theta.dtype, device=theta.device)
        M[unit.output_mask(theta)] = cfg.eta_output
        self.M = M
        self.out = unit.output_mask(theta)
        self.moving: torch.Tensor | None = None  # (E, 1, 1): 0 for the members a StopRule has stopped
        self._const_eta = cfg.schedule == "constant"

    def eta(self, k: int) -> float:
        return self.cfg.eta if self._const_eta else self.cfg.eta_at(k)

    def project(self, theta: torch.Tensor, G: torch.Tensor | None = None) -> torch.Tensor:
        """Retraction of theta, or tangent projection of G at theta."""
        return self.unit.project(theta) if G is None else self.unit.project_grad(theta, G)

    def noise(self, theta: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
        """Standard Gaussian xi shaped like theta (E, n, p); member e's from ``generators[e]``."""
        kw: dict[str, Any] = {"dtype": theta.dtype, "device": theta.device}
        return torch.stack([torch.randn(theta.shape[1:], generator=g, **kw) for g in generators])

    def factor(self, theta: torch.Tensor) -> torch.Tensor | float:
        """The step rule's factor of each member, (E, 1, 1), or 1 (``step_rule = "fixed"``); 0 once stopped."""
        f: torch.Tensor | float = 1.0
        if self.cfg.step_rule == "output_rms":
            rms = theta[..., self.out].square().mean(dim=(-2, -1)).sqrt()  # (E,)
            f = torch.clamp(rms, min=1.0)[:, None, None]
        return f if self.moving is None else f * self.moving

    def step(self, theta: torch.Tensor, G: torch.Tensor, k: int, generators) -> torch.Tensor:
        cfg, eta = self.cfg, self.eta(k) * self.factor(theta)
        if cfg.weight_decay:
            G = G + cfg.weight_decay * theta
        theta = theta - eta * self.M * self.project(theta, G)
        lam = cfg.noise_at(k)
        if lam > 0:
            theta = theta + torch.sqrt(2 * lam * eta * self.M) * self.noise(theta, generators)
        return self.project(theta)
