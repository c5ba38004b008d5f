"""Training and baselines of resnet-geodesic: every (network, γ, init) trained by full-batch Adam, its scores
along training, and the two transport-matched baselines (the untrained stack, and the trained γ = 0 ResNet,
each with its branches rescaled to the trained network's transport, :func:`~wgflow.residual.baselines.transport_matched_scale`).

``data`` is ``(x, y, x_test, y_test, d, k, n_out, embed)``: training and test sets, input dimension, stream width,
classes and whether the input is embedded into the stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from ...residual import (
    ObjectiveConfig,
    ResidualStack,
    kinetic_ratio,
    line_shape_score,
    normalised_transport,
    optimal_transport_score,
    output_spread,
    train_residual,
    transport_matched_scale,
)

#: Columns of the per-init score rows.
COLS = ("lss", "ots", "kratio", "acc", "transport", "spread")


def scores(net, x, xt, yt):
    """[LSS, OTS, K/W2², test accuracy, τ = W2²(μ_0, μ_L)/Var μ_0, spread²(μ_L)/Var μ_0] of a stack."""
    with torch.no_grad():
        T = net.tracks(x).numpy()  # (L+1, m, k)
        acc = float((net(xt).argmax(1) == yt).double().mean())
    var0 = output_spread(T[0]) ** 2
    return [
        line_shape_score(T).mean,
        optimal_transport_score(T[0], T[-1]),
        kinetic_ratio(T),
        acc,
        normalised_transport(T),
        output_spread(T[-1]) ** 2 / var0,
    ]


def make_net(cfg: Any, seed: int, data: tuple, residual: bool, s: int) -> ResidualStack:
    """Initialisation ``s`` of one network: the same for every γ and learning rate."""
    d, k, n_out, embed = data[4:]
    g = torch.Generator().manual_seed(10_000 * seed + 100 * s + 1)
    return ResidualStack(d, k, cfg.L, n_out, variant="WA", hidden=cfg.q, residual=residual, embed=embed, generator=g)


def fit(cfg: Any, seed: int, data: tuple, residual: bool, gamma: float) -> dict[str, np.ndarray]:
    """Every init of one (network, γ): scores at init, along training, trained, the matched baseline and
    (ResNet) the trained parameters."""
    x, y, xt, yt, _, k, _, _ = data
    out: dict[Any, Any] = {"init": [], "rows": [], "curve": [], "matched": [], "params": []}  # + snapshots
    for s in range(cfg.seeds):
        best = None
        for lr in cfg.lrs:  # the same initialisation for every learning rate
            net = make_net(cfg, seed, data, residual, s)
            shots: dict[int, Any] = {}
            curve: list[Any] = []

            def cb(step, model, shots=shots, curve=curve, s=s):
                if s == 0 and step in cfg.snapshots and k == 2:  # the stream is a plane
                    with torch.no_grad():
                        shots[f"snap{step}"] = model.tracks(x).numpy()
                if step in cfg.score_steps or step == cfg.steps:
                    curve.append([step] + [v for i, v in enumerate(scores(model, x, xt, yt)) if i != 5])

            try:
                r = train_residual(
                    net,
                    x,
                    y,
                    ObjectiveConfig("ce", gamma=gamma),
                    optimizer="adam",
                    steps=cfg.steps,
                    lr=lr,
                    callback=cb,
                )
            except FloatingPointError:
                continue  # this learning rate diverged; the others are kept
            if best is None or r.terms["total"] < best[1]:
                best = (net, r.terms["total"], lr, shots, curve)
        if best is None:
            raise FloatingPointError(f"γ={gamma:g}: every learning rate in {cfg.lrs} diverged; try smaller lrs")
        net, _, lr, shots, curve = best
        init = make_net(cfg, seed, data, residual, s)
        out["init"].append(scores(init, x, xt, yt))
        out["rows"].append([*scores(net, x, xt, yt), lr])
        out["curve"].append(curve)
        if residual:  # the untrained stack rescaled to move the data as far as the trained one
            sc = transport_matched_scale(init, x, out["rows"][-1][4])
            init.branch_scale = sc
            out["matched"].append([*scores(init, x, xt, yt)[:3], sc])
            out["params"].append(parameters_to_vector(net.parameters()).detach().numpy())
        if s == 0:
            out.update(shots)
    return {k_: np.array(v) for k_, v in out.items() if len(v)}


def matched_to_gamma0(cfg: Any, seed: int, data: tuple, st: dict) -> dict[str, np.ndarray]:
    """The trained γ = 0 ResNet of each init with its branches rescaled to move the data as far as the trained
    γ ResNet of the same init, at every γ: rows (LSS, OTS, K/W2², scale) per init, keyed by γ's index."""
    x, _, xt, yt = data[:4]
    P0 = st[("resnet", 0.0)]["params"]
    out = {}
    for i, gamma in enumerate(cfg.gammas):
        rows = []
        for s in range(cfg.seeds):
            net = make_net(cfg, seed, data, True, s)
            vector_to_parameters(torch.as_tensor(P0[s]), net.parameters())
            net.branch_scale = transport_matched_scale(net, x, float(st[("resnet", gamma)]["rows"][s, 4]))
            rows.append([*scores(net, x, xt, yt)[:3], net.branch_scale])
        out[f"g{i}"] = np.array(rows)
    return out
