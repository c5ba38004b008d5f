"""Figures of resnet-deep-limit: parameter paths, Cauchy gaps, data tracks and the FD ablation."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...plotting.figures import _plt


def figures(
    cfg: Any,
    ctx: Any,
    res: Any,
    paths: list,
    Ls: np.ndarray,
    gapE: np.ndarray,
    gapP: np.ndarray,
    y: Any,
    tracks: np.ndarray | None = None,
) -> None:
    """Seed 0's parameter paths at every depth, the Cauchy gaps of every seed, the data tracks (2-D stream)."""
    plt = _plt()  # matplotlib with the file backend

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for L, P in zip(cfg.Ls, paths):
        t = (np.arange(L) + 0.5) / L
        for j in range(min(3, P.shape[1])):
            lab = f"entry {j + 1}" if cfg.Ls[-1] == L else None
            ax.step(t, P[:, j].numpy(), where="mid", color=f"C{j}", alpha=0.3 + 0.7 * L / cfg.Ls[-1], label=lab)
    ax.set(xlabel="depth time $t$", ylabel=r"$A(t)$, first entries")
    ax.legend(fontsize=7)
    ax.set_title(
        f"parameter paths of the minimisers, L = {cfg.Ls[0]}…{cfg.Ls[-1]}\n(seed 0; darker: deeper)", fontsize=9
    )
    res.artifacts["paths"] = ctx.save_figure("paths", fig)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for gaps, mk, lab, c in (
        (gapE, "o", "$|E_L - E_{2L}|$", "C0"),
        (gapP, "s", r"$\|\theta_L - \theta_{2L}\|_{L^2}$", "C1"),
    ):
        for row in gaps:
            ax.loglog(Ls, np.maximum(row, 1e-300), "-", color=c, lw=0.5, alpha=0.4)
        ax.loglog(Ls, np.exp(np.log(np.maximum(gaps, 1e-300)).mean(0)), mk + "-", color=c, label=lab)
    rates = ", ".join(f"{k} {res.metrics.get(f'rate_{k}', float('nan')):.2f}" for k in ("E", "path"))
    ax.set(xlabel="depth $L$", ylabel="Cauchy gap")
    ax.set_title(
        f"Cauchy gaps vs depth: fitted exponents {rates}\n(claims 1-2: exponent vs the Euler order -1; thin: each seed)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    res.artifacts["gaps"] = ctx.save_figure("gaps", fig)
    if tracks is not None:
        _tracks_figure(cfg, ctx, res, tracks, y)


def _tracks_figure(cfg: Any, ctx: Any, res: Any, tracks: np.ndarray, y: Any) -> None:
    """The data's tracks (L+1, m, 2) through the deepest trained ResNet of seed 0, coloured by class."""
    plt = _plt()

    fig, ax = plt.subplots(figsize=(4.8, 4))
    lab = np.asarray(y)
    for i in range(tracks.shape[1]):
        ax.plot(tracks[:, i, 0], tracks[:, i, 1], lw=0.5, alpha=0.5, color=f"C{int(lab[i]) % 10}")
    for c in np.unique(lab):
        end = tracks[-1, lab == c]
        ax.scatter(end[:, 0], end[:, 1], s=6, color=f"C{int(c) % 10}", label=f"class {int(c)}, output layer")
    ax.set(xlabel="$X_1$", ylabel="$X_2$")
    ax.set_title(f"data tracks through the trained ResNet, L = {cfg.Ls[-1]} (seed 0)", fontsize=9)
    ax.legend(fontsize=7)
    res.artifacts["tracks"] = ctx.save_figure("tracks", fig)


def quotient_label(cfg: Any) -> str:
    """How the ablation compares paths of the "WA" model: modulo which relabellings of the hidden units."""
    if cfg.ablation_variant != "WA":
        return ""
    return " (modulo per-layer relabellings)" if cfg.ablation_quotient == "layer" else " (modulo a global relabelling)"


def ablation_figure(cfg: Any, ctx: Any, res: Any, Ls: np.ndarray, m: dict[str, dict[str, Any]]) -> None:
    """Energy gaps, path gaps and |θ'|²_H1 against L, with and without the FD penalty (``m`` by tag)."""
    plt = _plt()  # matplotlib with the file backend

    fig, axs = plt.subplots(1, 3, figsize=(12, 3.5), layout="constrained")
    for tag, lab, c in (("fd", f"β = {cfg.beta:g} (FD)", "C0"), ("nofd", "β = 0 (no FD)", "C3")):
        for j, key, Lx in ((0, "gapE", Ls), (1, "gapP", Ls), (2, "rough", cfg.Ls)):
            for row in m[tag][key]:
                axs[j].loglog(Lx, row, "-", color=c, lw=0.5, alpha=0.4)
            axs[j].loglog(Lx, np.exp(np.log(m[tag][key]).mean(0)), "o-", color=c, label=lab)
    ylabels = ("$|E_L - E_{2L}|$", r"$\|\theta_L - \theta_{2L}\|_{L^2}$", r"$|\theta'|^2_{H^1}$")
    for ax, lab in zip(axs, ylabels):
        ax.set(xlabel="depth $L$", ylabel=lab)
    axs[0].legend(fontsize=8)
    nofd = res.metrics.get("rel_gapP_nofd", float("nan"))
    fig.suptitle(
        f"model {cfg.ablation_variant}: without the FD penalty the last path gap{quotient_label(cfg)} is {nofd:.0%} "
        "of ‖θ‖ (thin: each seed)",
        fontsize=10,
    )
    res.artifacts["ablation"] = ctx.save_figure("ablation", fig)
