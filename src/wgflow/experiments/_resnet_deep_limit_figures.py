"""Figures of resnet-deep-limit: parameter paths, Cauchy gaps, data tracks and the FD ablation."""

from __future__ import annotations

import numpy as np

from ..plotting import _plt


def figures(cfg, ctx, res, paths, Ls, gapE, gapP, y, tracks=None):
    """Seed 0's parameter paths at every depth, the Cauchy gaps of every seed, the data tracks (2-D stream)."""
    plt = _plt()  # matplotlib with the file backend

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for L, P in zip(cfg.Ls, paths):
        t = (np.arange(L) + 0.5) / L
        for j in range(min(3, P.shape[1])):
            ax.step(t, P[:, j].numpy(), where="mid", color=f"C{j}", alpha=0.3 + 0.7 * L / cfg.Ls[-1])
    ax.set(xlabel="depth time t", ylabel="A(t) entries", title="parameter paths (seed 0), darker = deeper")
    res.artifacts["paths"] = ctx.save_figure("paths", fig)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for gaps, mk, lab, c in ((gapE, "o", "|E_L - E_2L|", "C0"), (gapP, "s", "||θ_L - θ_2L||_L2", "C1")):
        for row in gaps:
            ax.loglog(Ls, np.maximum(row, 1e-300), "-", color=c, lw=0.5, alpha=0.4)
        ax.loglog(Ls, np.exp(np.log(np.maximum(gaps, 1e-300)).mean(0)), mk + "-", color=c, label=lab)
    ax.set(xlabel="L", title="Cauchy gaps (thin: each seed)")
    ax.legend()
    res.artifacts["gaps"] = ctx.save_figure("gaps", fig)
    if tracks is not None:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        lab = np.asarray(y)
        for i in range(tracks.shape[1]):
            ax.plot(tracks[:, i, 0], tracks[:, i, 1], lw=0.5, alpha=0.5, color=f"C{int(lab[i]) % 10}")
        ax.scatter(tracks[-1, :, 0], tracks[-1, :, 1], s=6, c=[f"C{int(v) % 10}" for v in lab])
        ax.set(title=f"data tracks through the ResNet, L = {cfg.Ls[-1]}", xlabel="x1", ylabel="x2")
        res.artifacts["tracks"] = ctx.save_figure("tracks", fig)


def quotient_label(cfg) -> str:
    """How claim 4 compares paths of the "WA" model: modulo which relabellings of the hidden units."""
    if cfg.ablation_variant != "WA":
        return ""
    return " (modulo per-layer relabellings)" if cfg.ablation_quotient == "layer" else " (modulo a global relabelling)"


def ablation_figure(cfg, ctx, res, Ls, m):
    """Energy gaps, path gaps and |θ'|²_H1 against L, with and without the FD penalty (``m`` by tag)."""
    plt = _plt()  # matplotlib with the file backend

    fig, axs = plt.subplots(1, 3, figsize=(12, 3.5))
    for tag, lab, c in (("fd", f"β = {cfg.beta:g} (FD)", "C0"), ("nofd", "β = 0 (no FD)", "C3")):
        for j, key, Lx in ((0, "gapE", Ls), (1, "gapP", Ls), (2, "rough", cfg.Ls)):
            for row in m[tag][key]:
                axs[j].loglog(Lx, row, "-", color=c, lw=0.5, alpha=0.4)
            axs[j].loglog(Lx, np.exp(np.log(m[tag][key]).mean(0)), "o-", color=c, label=lab)
    axs[0].set(xlabel="L", title="|E_L - E_2L|")
    axs[1].set(
        xlabel="L",
        title="||θ_L - θ_2L||_L2" + quotient_label(cfg),
    )
    axs[2].set(xlabel="L", title="|θ'|²_H1 = L Σ|θ_k+1 - θ_k|²")
    axs[0].legend(fontsize=8)
    fig.suptitle(
        f"ablation of the finite-difference penalty, model {cfg.ablation_variant} (thin: each seed)", fontsize=9
    )
    res.artifacts["ablation"] = ctx.save_figure("ablation", fig)
