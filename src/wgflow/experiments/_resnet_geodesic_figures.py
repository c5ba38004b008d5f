"""Figures of resnet-geodesic (kept apart so the experiment module reads in one sitting)."""

from __future__ import annotations

import numpy as np

from ..plotting import _plt
from ..residual import kinetic_ratio, mccann_interpolation


def figures(cfg, ctx, res, st, snaps, y, ref):
    """Scores vs γ (trained, init, Gai & Zhang's ``ref``), vs training step, vs normalised transport; tracks."""
    plt = _plt()  # matplotlib with the file backend

    G = list(cfg.gammas)
    xg = np.arange(len(G))
    ref_i = [ref["gamma"].index(g) for g in G if g in ref["gamma"]]
    ref_x = [i for i, g in enumerate(G) if g in ref["gamma"]]
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.5))
    for j, lab in enumerate(("LSS", "OTS", "test accuracy")):
        for net, c in (("resnet", "C0"), ("plain", "C3")):
            axs[j].plot(
                xg,
                [st[(net, g)]["rows"][:, j if j < 2 else 3].mean() for g in G],
                "o-",
                color=c,
                label=f"{net} trained ({cfg.task})",
            )
            axs[j].plot(
                xg,
                [st[(net, g)]["init"][:, j if j < 2 else 3].mean() for g in G],
                "o:",
                color=c,
                alpha=0.5,
                label=f"{net} at init",
            )
            theirs = ref[f"{net}_{('lss', 'ots', 'acc')[j]}"]
            axs[j].plot(
                ref_x,
                [theirs[i] / (100 if j == 2 else 1) for i in ref_i],
                "x--",
                color=c,
                alpha=0.4,
                label=f"{net} (Gai & Zhang, CIFAR-100, theirs)",
            )
        axs[j].set(xticks=xg, xticklabels=[f"{g:g}" for g in G], xlabel="γ", ylabel=lab)
    axs[0].legend(fontsize=6)
    res.artifacts["scores"] = ctx.save_figure("scores_vs_gamma", fig)

    g = float(cfg.judge_gamma)
    fig, axs = plt.subplots(1, 4, figsize=(15, 3.3))
    for net, c in (("resnet", "C0"), ("plain", "C3")):
        C = st[(net, g)]["curve"]  # (seeds, n_steps, 6): step, LSS, OTS, K/W2², test accuracy, τ
        for j, (col, lab) in enumerate(((1, "LSS"), (2, "OTS"), (3, "K/W2²"), (5, "W2²(μ_0, μ_L)/Var μ_0"))):
            for cs in C:
                axs[j].plot(cs[:, 0] + 1, cs[:, col], color=c, lw=0.5, alpha=0.4)
            axs[j].plot(C[0, :, 0] + 1, np.nanmedian(C[:, :, col], 0), "o-", color=c, label=net)
            axs[j].set(xscale="log", xlabel="training step + 1", title=lab)
    axs[2].set_yscale("log")
    axs[3].set_yscale("log")
    axs[0].legend(fontsize=7)
    fig.suptitle(
        f"scores from initialisation to the trained network, γ = {g:g} (thin: each init, dots: median)", fontsize=9
    )
    res.artifacts["training"] = ctx.save_figure("scores_vs_step", fig)

    fig, axs = plt.subplots(1, 3, figsize=(13, 3.5))
    for j, lab in enumerate(("LSS", "OTS", "K/W2²")):
        for net, c in (("resnet", "C0"), ("plain", "C3")):
            for gi, gm in enumerate(G):
                s = st[(net, gm)]
                axs[j].scatter(
                    s["rows"][:, 4],
                    s["rows"][:, j],
                    color=c,
                    s=10 + 8 * gi,
                    alpha=0.7,
                    label=f"{net} trained" if gi == 0 else None,
                )
                axs[j].scatter(
                    s["init"][:, 4],
                    s["init"][:, j],
                    facecolors="none",
                    edgecolors=c,
                    s=10 + 8 * gi,
                    label=f"{net} init" if gi == 0 else None,
                )
                if "matched" in s:
                    axs[j].scatter(
                        s["rows"][:, 4],
                        s["matched"][:, j],
                        marker="x",
                        color="k",
                        s=10 + 8 * gi,
                        label="untrained ResNet, transport-matched" if gi == 0 and net == "resnet" else None,
                    )
        axs[j].set(xscale="log", xlabel="W2²(μ_0, μ_L) / Var μ_0", title=lab + " (marker size grows with γ)")
    axs[2].set_yscale("log")
    axs[0].legend(fontsize=6)
    res.artifacts["transport"] = ctx.save_figure("scores_vs_transport", fig)
    if snaps.get("resnet"):
        _track_figures(ctx, res, snaps, y)


def _track_figures(ctx, res, snaps, y):
    import matplotlib.pyplot as plt

    keys = sorted(snaps["resnet"], key=lambda s: int(s[4:]))
    fig, axs = plt.subplots(2, len(keys), figsize=(3 * len(keys), 6), squeeze=False)
    for r, net in enumerate(("resnet", "plain")):
        for c, key in enumerate(keys):
            T = snaps[net].get(key)
            if T is None:
                continue
            # a random subset: a regular stride would alias with the periodic labels (y = i mod K)
            for i in np.random.default_rng(0).permutation(T.shape[1])[:64]:
                axs[r, c].plot(T[:, i, 0], T[:, i, 1], color=f"C{y[i] % 10}", lw=0.6)
            axs[r, c].set_title(f"{net}, epoch {key[4:]}", fontsize=8)
    res.artifacts["tracks"] = ctx.save_figure("tracks", fig)
    # The trained ResNet's tracks beside the W2 geodesic between the same endpoints: McCann's
    # interpolation, straight lines along the optimal assignment (Benamou–Brenier's minimiser).
    T = snaps["resnet"][keys[-1]]
    G = mccann_interpolation(T[0], T[-1], T.shape[0] - 1)
    fig, axs = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
    for ax, tr, title in (
        (axs[0], T, f"ResNet tracks, K/W2² = {kinetic_ratio(T):.3f}"),
        (axs[1], G, "geodesic: McCann interpolation μ_0 → μ_L"),
    ):
        for i in np.random.default_rng(0).permutation(tr.shape[1])[:64]:
            ax.plot(tr[:, i, 0], tr[:, i, 1], color=f"C{y[i] % 10}", lw=0.6)
        ax.set_title(title, fontsize=8)
    res.artifacts["geodesic"] = ctx.save_figure("geodesic", fig)
