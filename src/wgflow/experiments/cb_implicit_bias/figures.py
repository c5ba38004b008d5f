"""Figures of cb-implicit-bias (kept apart so the experiment module reads in one sitting)."""

from __future__ import annotations

import numpy as np
import torch

from ...measures.measure import ParticleMeasure
from ...measures.units import ReLU
from ...plotting.figures import COLORS, _plt
from ...plotting.verdicts import Caption
from ...tasks.clusters import ClustersTask

CAPTIONS = {
    "cb_implicit_bias_curves": Caption(
        "Test error against the input dimension for both-layer (F1) and output-layer (F2) training (left); "
        "each seed's normalised margin over its max-margin reference (right).",
        claims=("f1_margin_ratio", "f2_margin_ratio"),
    ),
    "cb_decision_regions": Caption(
        "Decision regions of both-layer and output-layer training on the clusters task (seed 0).",
        claims=("f1_error_gap", "f2_error_gap"),
    ),
}


def curves(ctx, cfg, rows, err) -> str:
    """Test error against d (both layers vs output layer) and each seed's margin over its reference."""
    plt = _plt()  # matplotlib with the file backend

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    roles = {"both": ("trained", "both layers ($F_1$)"), "output": ("control", "output layer ($F_2$)")}
    for r, (role, lab) in roles.items():
        ax[0].errorbar(cfg.d_values, err[r].mean(1), yerr=err[r].std(1), fmt="o-", color=COLORS[role], label=lab)
        for i, (_suffix, runs) in enumerate(rows):
            v = np.clip([u["ratio"] for u in runs[r]], -1.0, None)  # negative ratios: unseparated data
            ax[1].plot([2 * i + (r == "output")] * len(v), v, "o", color=COLORS[role], label=lab if i == 0 else None)
    ax[0].set(xlabel="input dimension $d$", ylabel="test error", title=f"$n$ = {cfg.n_fixed}, $m$ = {cfg.m}")
    ax[1].axhline(1.0, color=COLORS["reference"], lw=0.8, label="reference max-margin")
    ax[1].axhline(cfg.fraction, color=COLORS["reference"], ls=":", lw=0.8, label=f"claimed fraction {cfg.fraction:g}")
    ax[1].set(
        xticks=range(2 * len(rows)),
        xticklabels=[f"{r}{' (post hoc)' if s else ' (source)'}" for s, _ in rows for r in ("F1", "F2")],
        xlabel="training (network vs its reference)",
        ylabel="margin / reference",
        ylim=(-1.1, 1.2),
        title=f"$d$ = {cfg.d_margin}, $n$ = {cfg.n_margin}, each seed (clipped at -1)",
    )
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=7, loc="lower right")
    growth = {r: float((e[-1] - e[0]).mean()) for r, e in err.items()}
    ratio = {r: float(np.mean([u["ratio"] for u in rows[0][1][r]])) for r in ("both", "output")}
    fig.suptitle(
        f"from $d$ = {cfg.d_values[0]} to {cfg.d_values[-1]} the test error grows {growth['both']:+.2g} (both layers) "
        f"vs {growth['output']:+.2g} (output layer); margins reach {ratio['both']:.2f} ($F_1$) and "
        f"{ratio['output']:.2f} ($F_2$) of their references"
    )
    return ctx.save_figure("cb_implicit_bias_curves", fig)


def regions(ctx, cfg, runs) -> str:
    """Decision regions of both-layer and output-layer training (seed 0) on the clusters task."""
    plt = _plt()  # matplotlib with the file backend

    xg, X1, X2 = ClustersTask.random(cfg.d_margin, cfg.k).grid(150)  # only its grid is used
    fig, ax = plt.subplots(1, 2, figsize=(9, 4.6), layout="constrained")
    gaps = []
    for a, r, lab in zip(ax, ("both", "output"), ("both layers", "output layer only")):
        st = runs[r][0]
        mu = ParticleMeasure(torch.from_numpy(np.asarray(st["theta"])), ReLU(cfg.d_margin))
        f = mu.output(xg).numpy().reshape(X1.shape)
        a.contourf(X1, X2, np.sign(f), levels=[-2, 0, 2], colors=["#9ecae1", "#fcbba1"])
        a.contour(X1, X2, f, levels=[0], colors="k", linewidths=0.8)
        x, y = np.asarray(st["x"]), np.asarray(st["y"])
        for sign, col, name in ((1, "C3", "class +1"), (-1, "C0", "class -1")):
            a.scatter(x[y * sign > 0, 1], x[y * sign > 0, 2], c=col, s=8, label=name)
        a.plot([], [], "k-", lw=0.8, label="decision boundary")
        a.legend(fontsize=7, loc="upper right")
        a.set(xlabel="$x_1$", ylabel="$x_2$", title=f"{lab} (seed 0): test error {st['test_error']:.3f}")
        a.set_aspect("equal")
        gaps.append(float(np.mean([v["test_error"] - v["ref_error"] for v in runs[r]])))
    fig.suptitle(
        f"test error above the max-margin classifier's: {gaps[0]:+.3f} ($F_1$, both layers), "
        f"{gaps[1]:+.3f} ($F_2$, output layer); $d$ = {cfg.d_margin}, $n$ = {cfg.n_margin}"
    )
    return ctx.save_figure("cb_decision_regions", fig)
