"""Figures of mmn-gaussians (kept apart so the experiment module reads in one sitting)."""

from __future__ import annotations

import numpy as np

from ...plotting.figures import COLORS, LINESTYLES, _plt
from ...plotting.verdicts import Caption
from ...stats import fit_power_law

CAPTIONS = {
    "mmn_risk_and_scaling": Caption(
        "Risk curves of N particles against the PDE's (left); the largest gap between the N-particle and the "
        "PDE risk over t >= gap_t_min (middle) and the largest W2 between the law of |w| and the PDE's over the "
        "histogram times (right) against N, with the rates the claims test.",
        claims=("risk_gap_rate", "w2_rate"),
    ),
    "mmn_histograms": Caption(
        "Histograms of the particles' radii |w_i| against the PDE's density at the recorded times.",
        claims=("tracks_pde_beyond_floor", "moved_beyond_floor"),
    ),
    "mmn_noise": Caption(
        "Online SGD's largest W2 distance, over the histogram times, between its law of |w| and that of the "
        "exact-gradient flow from the same initial particles, against the noise level eta / P of each (P, eta) "
        "pair, with the fitted power law and the slope 1/2 of sqrt(eta / P) (left); noisy SGD's final radii "
        "(seed 0) against the radial Gibbs law of the potential of those very particles (middle), and noiseless "
        "GD with the same ridge, step and steps against the Gibbs law of its own potential (right, the null).",
        claims=("sgd_noise_rate", "noisy_fixed_point"),
    ),
}


def figures(cfg, ctx, runs, sgd, sol, t_risk, idx_hist, hist_steps, ns, gaps, w2_sup) -> dict:
    """Risk curves and the distances to the PDE against N; histograms of |w| against the PDE's density."""
    plt = _plt()  # matplotlib with the file backend

    out = {}
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.9), layout="constrained")
    for n in cfg.n_values:
        ax[0].plot(t_risk, runs[(n, 0)]["risk"], lw=1, label=f"$N$ = {n}")
    ax[0].plot(sol.times, sol.risk, LINESTYLES["reference"], color=COLORS["reference"], lw=1.5, label="PDE")
    ax[0].set(xlabel="mean-field time $t$", ylabel="risk $R$", title="risk curves (seed 0)")
    ax[0].legend(fontsize=7)
    fits = []
    panels = (
        (ax[1], gaps, rf"$\sup_{{t \geq {cfg.gap_t_min:g}}} |R_N - R_{{PDE}}|$", -1.0),
        (ax[2], w2_sup, r"$\max_t W_2(|w|_N, PDE)$", -0.5),
    )
    for a, y, lab, theory in panels:
        fit = fit_power_law(ns, y, seed=ctx.seed)
        fits.append(fit)
        a.loglog(ns, y, ".", alpha=0.4, color=COLORS["trained"], label="each seed")
        a.loglog(
            fit.n,
            fit.predict(fit.n),
            color=COLORS["trained"],
            label=f"fit: {fit.slope:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]",
        )
        ref = fit.y_mean[0] * (fit.n / fit.n[0]) ** theory
        a.loglog(fit.n, ref, LINESTYLES["theory"], color=COLORS["theory"], label=f"$N^{{{theory:g}}}$ (theory)")
        a.set(xlabel="particles $N$", ylabel=lab, title="distance to the PDE")
        a.legend(fontsize=7)
    fig.suptitle(
        f"distance to the PDE: risk gap $\\propto N^{{{fits[0].slope:.2f}}}$ (theory $N^{{-1}}$), "
        f"$W_2 \\propto N^{{{fits[1].slope:.2f}}}$ (theory $N^{{-1/2}}$)"
    )
    out["risk"] = ctx.save_figure("mmn_risk_and_scaling", fig)

    n_big = max(cfg.n_values)
    fig, axes = plt.subplots(1, len(hist_steps), figsize=(3.6 * len(hist_steps), 3.4), layout="constrained")
    for ax, k, j, t in zip(np.atleast_1d(axes), hist_steps, idx_hist, cfg.hist_times):
        run = runs[(n_big, 0)]
        i = list(run["snap_steps"]).index(k)
        ax.hist(run["r"][i], bins=40, density=True, alpha=0.5, color=COLORS["trained"], label=f"$|w_i|$, $N$ = {n_big}")
        if sgd:
            ax.hist(sgd[0]["r"][i], bins=40, density=True, histtype="step", label=f"SGD, $P$ = {cfg.sgd_batch}")
        ax.plot(sol.centers, sol.density[j], color=COLORS["reference"], lw=1.2, label="PDE")
        cdf = np.cumsum(sol.mass[j])
        lo, hi = sol.centers[np.searchsorted(cdf, 1e-4)], sol.centers[np.searchsorted(cdf, 1 - 1e-4)]
        ax.set_xlim(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo))
        ax.set(xlabel="$r = |w|$", ylabel="density", title=f"$t$ = {t:g}")
        ax.legend(fontsize=7)
    fig.suptitle(f"the law of $|w_i|$ ($N$ = {n_big}, seed 0) against the PDE's along the flow")
    out["hist"] = ctx.save_figure("mmn_histograms", fig)
    return out


def noise_figures(ctx, pairs: dict | None, fixed: dict | None) -> dict:
    """SGD's departure from the exact-gradient flow against eta / P; the noisy run's radii against their Gibbs law."""
    if pairs is None and fixed is None:
        return {}
    plt = _plt()  # matplotlib with the file backend

    panels = (pairs is not None) + 2 * (fixed is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.8), layout="constrained")
    axes = list(np.atleast_1d(axes))
    if pairs is not None:
        _departure_panel(axes.pop(0), pairs)
    if fixed is not None:
        _gibbs_panels(axes, fixed)
    fig.suptitle("SGD's noise level and noisy SGD's fixed point")
    return {"noise": ctx.save_figure("mmn_noise", fig)}


def _departure_panel(ax, pairs: dict) -> None:
    lv, dep = np.asarray(pairs["level"]), np.asarray(pairs["dep"])
    moved = dep > 0  # untrained: SGD is the flow, nothing to draw on log axes
    ax.set(xscale="log", yscale="log")
    ax.plot(lv[moved], dep[moved], ".", alpha=0.4, color=COLORS["trained"], label="each seed and pair")
    if moved.all():
        fit = fit_power_law(lv, dep, clusters=pairs["seed"])
        ax.plot(fit.n, fit.predict(fit.n), color=COLORS["trained"], label=f"fit: slope {fit.slope:.2f}")
        ref = fit.y_mean[0] * np.sqrt(fit.n / fit.n[0])
        ax.plot(fit.n, ref, LINESTYLES["theory"], color=COLORS["theory"], label=r"$\sqrt{\eta/P}$ (theory)")
    ax.set(xlabel=r"noise level $\eta / P$", ylabel=r"$\max_t W_2(|w|_{SGD}, |w|_{GD})$")
    ax.set_title("SGD's departure from the flow")
    ax.legend(fontsize=7)


def _gibbs_panels(axes, fixed: dict) -> None:
    edges = fixed["edges"]
    centers = 0.5 * (edges[1:] + edges[:-1])
    titles = {"noisy": "noisy SGD", "plain": "noiseless GD (null)"}
    for ax, (key, (r, mass)) in zip(axes, fixed["example"].items()):
        ax.hist(r, bins=30, density=True, alpha=0.5, color=COLORS["trained"], label="final $|w_i|$ (seed 0)")
        ax.plot(centers, mass / np.diff(edges), color=COLORS["reference"], lw=1.2, label=r"Gibbs law of its $\psi$")
        cdf = np.cumsum(mass)
        lo, hi = centers[np.searchsorted(cdf, 1e-4)], centers[np.searchsorted(cdf, 1 - 1e-4)]
        ax.set_xlim(min(lo, r.min()) - 0.05, max(hi, r.max()) + 0.05)
        ax.set(xlabel="$r = |w|$", ylabel="density", title=titles[key])
        ax.legend(fontsize=7)
