"""Figures of resnet-geodesic (kept apart so the experiment module reads in one sitting).

Our scores (digits or a 2-D task) and Gai & Zhang's values (CIFAR-100) never share an axis: the
source's numbers get a figure of their own, titled as theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...plotting.figures import _plt
from ...residual import kinetic_ratio, mccann_interpolation

#: Score columns drawn against γ, step and transport: (column in the score rows, y label).
_LSS, _OTS, _KR, _ACC = (0, "LSS"), (1, "OTS"), (2, r"$K\,/\,W_2^2(\mu_0, \mu_L)$"), (3, "test accuracy")
_TAU = r"$W_2^2(\mu_0, \mu_L)\,/\,\mathrm{Var}\,\mu_0$"
_NETS = (("resnet", "C0", "ResNet"), ("plain", "C3", "plain"))


def figures(cfg: Any, ctx: Any, res: Any, st: dict, snaps: dict, y: np.ndarray, ref: dict) -> None:
    """Scores vs γ (trained and at init), Gai & Zhang's ``ref`` apart, vs training step, vs normalised transport;
    tracks of the data through the stacks (2-D stream)."""
    _gamma_figure(cfg, ctx, res, st)
    _source_figure(ctx, res, ref)
    _step_figure(cfg, ctx, res, st)
    _transport_figure(cfg, ctx, res, st)
    if snaps.get("resnet"):
        _track_figures(ctx, res, snaps, y)


def _gamma_figure(cfg: Any, ctx: Any, res: Any, st: dict) -> None:
    plt = _plt()  # matplotlib with the file backend

    G = list(cfg.gammas)
    xg = np.arange(len(G))
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, (j, lab) in zip(axs, (_LSS, _OTS, _ACC)):
        for net, c, name in _NETS:
            ax.plot(xg, [st[(net, g)]["rows"][:, j].mean() for g in G], "o-", color=c, label=f"{name}, trained")
            ax.plot(xg, [st[(net, g)]["init"][:, j].mean() for g in G], "o:", color=c, alpha=0.5, label=f"{name}, init")
        ax.set(xticks=xg, xticklabels=[f"{g:g}" for g in G], xlabel=r"weight decay $\gamma$", ylabel=lab)
    axs[0].legend(fontsize=7)
    g = float(cfg.judge_gamma)
    before, after = (st[("resnet", g)][k][:, 0].mean() for k in ("init", "rows"))
    fig.suptitle(
        f"{cfg.task}: training moves the ResNet's LSS from {before:.2f} to {after:.2f} at γ = {g:g} "
        f"(means over {cfg.seeds} inits; dotted: initialisation)",
        fontsize=10,
    )
    res.artifacts["scores"] = ctx.save_figure("scores_vs_gamma", fig)


def _source_figure(ctx: Any, res: Any, ref: dict) -> None:
    """Gai & Zhang's own values (CIFAR-100), on axes of their own."""
    plt = _plt()

    xg = np.arange(len(ref["gamma"]))
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, (key, lab, scale) in zip(axs, (("lss", "LSS", 1), ("ots", "OTS", 1), ("acc", "test accuracy", 100))):
        for net, c, name in _NETS:
            ax.plot(xg, np.asarray(ref[f"{net}_{key}"]) / scale, "x--", color=c, label=f"{name} (Gai & Zhang)")
        ax.set(xticks=xg, xticklabels=[f"{g:g}" for g in ref["gamma"]], xlabel=r"weight decay $\gamma$", ylabel=lab)
    axs[0].legend(fontsize=7)
    fig.suptitle("the source's numbers, not ours: Gai & Zhang 2021, CIFAR-100 (read off their slides, ±0.02)")
    res.artifacts["source"] = ctx.save_figure("source_scores_vs_gamma", fig)


def _step_figure(cfg: Any, ctx: Any, res: Any, st: dict) -> None:
    plt = _plt()

    g = float(cfg.judge_gamma)
    fig, axs = plt.subplots(1, 4, figsize=(15, 3.4), layout="constrained")
    for net, c, name in _NETS:
        C = st[(net, g)]["curve"]  # (seeds, n_steps, 6): step, LSS, OTS, K/W2², test accuracy, τ
        for ax, (col, lab) in zip(axs, ((1, _LSS[1]), (2, _OTS[1]), (3, _KR[1]), (5, _TAU))):
            for cs in C:
                ax.plot(cs[:, 0] + 1, cs[:, col], color=c, lw=0.5, alpha=0.4)
            ax.plot(C[0, :, 0] + 1, np.nanmedian(C[:, :, col], 0), "o-", color=c, label=f"{name} (median)")
            ax.set(xscale="log", xlabel="training step + 1", ylabel=lab)
    axs[2].set_yscale("log")
    axs[3].set_yscale("log")
    axs[0].legend(fontsize=7)
    fig.suptitle(f"{cfg.task}: scores from initialisation to the trained network, γ = {g:g} (thin: each init)")
    res.artifacts["training"] = ctx.save_figure("scores_vs_step", fig)


def _transport_figure(cfg: Any, ctx: Any, res: Any, st: dict) -> None:
    plt = _plt()

    fig, axs = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, (j, lab) in zip(axs, (_LSS, _OTS, _KR)):
        for net, c, name in _NETS:
            for gi, gm in enumerate(cfg.gammas):
                s, size = st[(net, gm)], 10 + 8 * gi
                labels: tuple[str | None, ...] = (
                    f"{name}, trained",
                    f"{name}, init",
                    "untrained ResNet, transport-matched",
                    r"trained $\gamma = 0$ ResNet, transport-matched",
                )
                labels = labels if gi == 0 else (None, None, None, None)
                ax.scatter(s["rows"][:, 4], s["rows"][:, j], color=c, s=size, alpha=0.7, label=labels[0])
                ax.scatter(s["init"][:, 4], s["init"][:, j], facecolors="none", edgecolors=c, s=size, label=labels[1])
                for key, mark, col, label in (("matched", "x", "k", labels[2]), ("matched0", "+", "C2", labels[3])):
                    if key in s:
                        ax.scatter(s["rows"][:, 4], s[key][:, j], marker=mark, color=col, s=size, label=label)
        ax.set(xscale="log", xlabel=_TAU, ylabel=lab)
    axs[2].set_yscale("log")
    axs[0].legend(fontsize=6)
    fig.suptitle(f"{cfg.task}: scores against normalised transport (marker size grows with γ)")
    res.artifacts["transport"] = ctx.save_figure("scores_vs_transport", fig)


def _draw_tracks(ax: Any, T: np.ndarray, y: np.ndarray, title: str) -> None:
    """64 random data tracks (L+1, m, 2) coloured by class, with labelled axes."""
    # a random subset: a regular stride would alias with the periodic labels (y = i mod K)
    for i in np.random.default_rng(0).permutation(T.shape[1])[:64]:
        ax.plot(T[:, i, 0], T[:, i, 1], color=f"C{y[i] % 10}", lw=0.6)
    ax.set(xlabel="$X_1$", ylabel="$X_2$")
    ax.set_title(title, fontsize=8)


def _class_legend(fig: Any, y: np.ndarray) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{c % 10}", label=f"class {c}") for c in np.unique(y)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)


def _track_figures(ctx: Any, res: Any, snaps: dict, y: np.ndarray) -> None:
    plt = _plt()

    keys = sorted(snaps["resnet"], key=lambda s: int(s[4:]))
    fig, axs = plt.subplots(2, len(keys), figsize=(3.2 * len(keys) + 1, 6.4), squeeze=False, layout="constrained")
    for r, net in enumerate(("resnet", "plain")):
        for c, key in enumerate(keys):
            T = snaps[net].get(key)
            if T is None:
                axs[r, c].axis("off")
                continue
            _draw_tracks(axs[r, c], T, y, f"{'ResNet' if net == 'resnet' else 'plain'}, step {key[4:]}")
    _class_legend(fig, y)
    fig.suptitle("tracks of the data through the hidden layers, during training (first init)")
    res.artifacts["tracks"] = ctx.save_figure("tracks", fig)
    # The trained ResNet's tracks beside the W2 geodesic between the same endpoints: McCann's
    # interpolation, straight lines along the optimal assignment (Benamou–Brenier's minimiser).
    T = snaps["resnet"][keys[-1]]
    G = mccann_interpolation(T[0], T[-1], T.shape[0] - 1)
    fig, axs = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True, layout="constrained")
    _draw_tracks(axs[0], T, y, "trained ResNet")
    _draw_tracks(axs[1], G, y, r"geodesic: McCann interpolation $\mu_0 \to \mu_L$")
    _class_legend(fig, y)
    fig.suptitle(
        f"the trained ResNet's tracks against the $W_2$ geodesic: $K/W_2^2$ = {kinetic_ratio(T):.3f} (1 = geodesic)"
    )
    res.artifacts["geodesic"] = ctx.save_figure("geodesic", fig)
