"""Minimisers for resnet-deep-limit: random-path and warm starts, the sweep over depths, the neural ODE.

Every minimiser is the best of several L-BFGS starts (:func:`wgflow.residual.objective.train_multistart`);
a sweep is stored as a stage (:func:`pack`): energies, initial energies, the paths and their |θ'|²_H1, and the
initial path of the start that was kept (the null of the convergence claims: the same statistic before minimisation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...residual import NeuralODE, ObjectiveConfig, ResidualStack, resample_path
from ...residual.objective import train_multistart


def init_path(model: Any, g: torch.Generator, cfg: Any) -> Any:
    """Overwrite the random i.i.d. layers of ``model`` by a random ``init_nodes``-node path."""
    if cfg.init_nodes:
        with torch.no_grad():
            for name in model.layer_params():
                P = getattr(model, name)
                nodes = torch.randn(cfg.init_nodes, *P.shape[1:], generator=g, dtype=P.dtype)
                s_ = 0.1 * cfg.init_scale if name == "b" else cfg.init_scale / P.shape[-1] ** 0.5
                P.copy_(resample_path(s_ * nodes, P.shape[0], "linear"))
    return model


def copy_from(model: Any, prev: Any, kind: str) -> Any:
    """Warm start: the coarser minimiser ``prev`` resampled to this depth."""
    with torch.no_grad():
        for name in ("A", "b"):
            getattr(model, name).copy_(resample_path(getattr(prev, name), model.L, kind))
        for name in ("E", "C", "c"):
            if getattr(model, name) is not None:
                getattr(model, name).copy_(getattr(prev, name))
    return model


def sweep(
    cfg: Any, ctx: Any, x: torch.Tensor, y: torch.Tensor, beta: float, variant: str, s: int
) -> tuple[dict[str, np.ndarray], list[Any]]:
    """Minimisers over the depths of one init seed ``s``: the packed stage and the trained models."""
    d, n_out = x.shape[1], int(y.max()) + 1
    obj = ObjectiveConfig("ce", cfg.alpha, beta, cfg.rho)
    E, E0, paths, paths0, rough = [], [], [], [], []
    models: list[Any] = []  # the trained stacks, shallow to deep
    for L in cfg.Ls:
        warm = cfg.warm_start and bool(models)

        def make(r, L=L, warm=warm):
            g = torch.Generator().manual_seed(1000 * ctx.seed + L + 1_000_003 * r + 7919 * s)
            net = ResidualStack(
                d,
                cfg.k if cfg.embed else d,
                L,
                n_out,
                embed=cfg.embed,
                scale=cfg.init_scale,
                variant=variant,
                hidden=cfg.ablation_hidden,
                generator=g,
            )
            if warm and r == cfg.restarts:
                return copy_from(net, models[-1], "constant")
            return init_path(net, g, cfg)

        net: Any
        net, r, totals = train_multistart(make, cfg.restarts + warm, x, y, obj, steps=cfg.steps)
        ctx.log(
            f"seed {s} {variant} beta={beta:g} L={L}: E={r.terms['total']:.8f} (init {r.initial:.5f}) "
            f"fit={r.terms['fit']:.5f} |θ'|²_H1={r.terms['fd']:.4g} (starts: "
            f"{', '.join(f'{t:.5f}' for t in totals)})"
        )
        E.append(r.terms["total"])
        E0.append(r.initial)
        rough.append(r.terms["fd"])
        paths.append(layer_path(net, variant))
        paths0.append(layer_path(make(int(np.argmin(totals))), variant))  # the kept start, rebuilt before training
        models.append(net)
    return pack(np.array(E), paths, np.array(rough), np.array(E0), paths0), models


def layer_path(net: Any, variant: str) -> torch.Tensor:
    """The parameter path of a stack: (L, k²+k) for model A, (L, q, 2k+1) unit paths for "WA"."""
    if variant == "A":
        return torch.cat([net.A.detach().flatten(1), net.b.detach()], 1)
    return net.unit_paths().detach()


def train_ode(cfg: Any, ctx: Any, x: torch.Tensor, y: torch.Tensor, top: torch.Tensor, kept: dict) -> dict[str, Any]:
    """The directly trained neural ODE (M = ``ode_nodes``), best of the random starts and one warm start
    from the deepest ResNet's path ``top`` (L, k²+k) (and its embedding/readout when ``kept``)."""
    d, n_out = x.shape[1], int(y.max()) + 1
    obj = ObjectiveConfig("ce", cfg.alpha, cfg.beta, cfg.rho)
    M = cfg.ode_nodes

    def make(r):
        g = torch.Generator().manual_seed(1000 * ctx.seed + 7 + 1_000_003 * r)
        ode = NeuralODE(
            d,
            cfg.k if cfg.embed else d,
            M,
            n_out,
            embed=cfg.embed,
            method=cfg.ode_method,
            step_size=1 / (2 * M),
            scale=cfg.init_scale,
            generator=g,
        )
        if r < cfg.restarts:
            return init_path(ode, g, cfg)
        # warm start from the deepest ResNet's path (claim 3 then also tests a nearby minimiser)
        kk = ode.A.shape[1]
        with torch.no_grad():
            ode.A.copy_(resample_path(top[:, : kk * kk].reshape(-1, kk, kk), M, "linear"))
            ode.b.copy_(resample_path(top[:, kk * kk :], M, "linear"))
            if kept:
                for name in ("E", "C", "c"):
                    if getattr(ode, name) is not None:
                        getattr(ode, name).copy_(getattr(kept["models"][-1], name))
        return ode

    ode: Any
    ode, r, totals = train_multistart(make, cfg.restarts + cfg.warm_start, x, y, obj, steps=cfg.steps)
    ctx.log(f"ODE M={M}: E={r.terms['total']:.8f} (starts: {', '.join(f'{t:.5f}' for t in totals)})")
    return {
        "E": r.terms["total"],
        "E0": r.initial,
        "path": layer_path(ode, "A").numpy(),
        "path0": layer_path(make(int(np.argmin(totals))), "A").numpy(),  # the kept start before training
    }


def pack(
    E: np.ndarray, paths: list[torch.Tensor], rough: np.ndarray, E0: np.ndarray, paths0: list[torch.Tensor]
) -> dict[str, np.ndarray]:
    """A sweep as a stage: energies, initial energies, the paths p0, p1, ..., their |θ'|²_H1 and the
    initial paths q0, q1, ... of the kept starts."""
    return {
        "E": E,
        "E0": E0,
        "rough": rough,
        **{f"p{i}": p.numpy() for i, p in enumerate(paths)},
        **{f"q{i}": p.numpy() for i, p in enumerate(paths0)},
    }


def unpack(s: dict, n: int, initial: bool = False) -> list[torch.Tensor]:
    """The ``n`` paths of a packed sweep (``initial``: those of the kept starts before training), as tensors."""
    return [torch.as_tensor(s[f"{'q' if initial else 'p'}{i}"]) for i in range(n)]
