"""Figures of rve-3spin (kept apart so the experiment module reads in one sitting).

``runs``: variant label ("sigmoid-d10", "rbf-d5") -> (per-width stage outputs, power-law fits, widths
repeated per target); ``paper``: label -> the paper's read-off loss at the fitted widths (sigmoid
variants whose dimension the paper reports).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...plotting.figures import COLORS, LINESTYLES, _plt
from ...plotting.verdicts import Caption, bind_claims

CAPTIONS = {
    "rve3spin_loss_vs_n": Caption(
        "Final test loss against the width n for each variant (each target a dot, the power-law fit a line), "
        "before the quench for the sigmoid SGD runs, the n^{-1} rate and, where the paper reports it, its "
        "read-off loss on the same task."
    ),
    "rve3spin_loss_vs_time": Caption(
        "Test loss along training in mean-field time for every width (first target): the early descent whose "
        "rate the sigmoid rate_collapse claims compare across n."
    ),
    "rve3spin_slice": Caption("The target f and the trained networks f_n along a great circle (first target)."),
}


def figures(ctx, runs: Mapping, paper: Mapping[str, np.ndarray]) -> dict:
    """Loss against n (bound to each variant's exponent claims), loss along training, a slice of f and f_n."""
    plt = _plt()  # matplotlib with the file backend

    labels = list(runs)
    fig, ax = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), squeeze=False, layout="constrained")
    for a, label in zip(ax[0], labels):
        out, fits, ns = runs[label]
        _loss_vs_n(a, label, out, fits, ns, paper.get(label))
    slopes = ", ".join(f"{label} $n^{{{runs[label][1]['post'].slope:.2f}}}$" for label in labels)
    fig.suptitle(f"final test loss $\\propto$ {slopes} (theory $n^{{-1}}$)")
    bind_claims(fig, [c for label in labels for c in _claims(label, label in paper)])
    paths = {"loss_vs_n": ctx.save_figure("rve3spin_loss_vs_n", fig)}

    fig, ax = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), squeeze=False, layout="constrained")
    for a, label in zip(ax[0], labels):
        for n, r in runs[label][0].items():
            t, risk = np.asarray(r["risk_times"]), np.asarray(r["risk"])[0]
            a.loglog(t[t > 0], risk[t > 0], lw=1, label=f"$n$ = {n}")
        a.set(xlabel="mean-field time $t$", ylabel="test loss", title=f"{label} (target 0)")
        a.legend(fontsize=7)
    fig.suptitle("test loss along training at every width")
    bind_claims(fig, [f"{label}_rate_collapse" for label in labels if label.startswith("sigmoid")])
    paths["loss_vs_time"] = ctx.save_figure("rve3spin_loss_vs_time", fig)

    fig, ax = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), squeeze=False, layout="constrained")
    for a, label in zip(ax[0], labels):
        for i, (n, r) in enumerate(runs[label][0].items()):
            if i == 0:
                a.plot(r["slice_s"], r["slice_f"][0], color=COLORS["reference"], lw=2, label="$f$ (target)")
            a.plot(r["slice_s"], r["slice_fn"][0], lw=1, label=f"$f_n$, $n$ = {n}")
        a.set(xlabel="angle on a great circle (rad)", ylabel="$f$, $f_n$", title=f"{label} (target 0)")
        a.legend(fontsize=7)
    fig.suptitle("the 3-spin target and the trained networks along a great circle")
    paths["slice"] = ctx.save_figure("rve3spin_slice", fig)
    return paths


def _claims(label: str, with_paper: bool) -> list[str]:
    """The claims the loss-against-n panel of ``label`` is evidence for."""
    if not label.startswith("sigmoid"):
        return [f"{label}_loss_exponent"]
    return [f"{label}_loss_exponent", f"{label}_sgd_exponent"] + ([f"{label}_loss_vs_paper"] if with_paper else [])


def _loss_vs_n(a, label: str, out: Mapping, fits: Mapping, ns: np.ndarray, paper: np.ndarray | None) -> None:
    for key, mk, role in (("pre", "s", "control"), ("post", "o", "trained")):
        if key not in fits:
            continue
        y = np.concatenate([np.asarray(r[key], dtype=float) for r in out.values()])
        f = fits[key]
        a.loglog(ns, y, mk, alpha=0.35, ms=4, color=COLORS[role])
        what = "before the quench" if key == "pre" else "final"
        a.loglog(f.n, f.predict(f.n), color=COLORS[role], label=f"{what}: {f.slope:.2f} [{f.lo:.2f}, {f.hi:.2f}]")
    f = fits["post"]
    a.loglog(f.n, f.y_mean[0] * f.n[0] / f.n, LINESTYLES["theory"], color=COLORS["theory"], label="$n^{-1}$ (theory)")
    if paper is not None:
        a.loglog(f.n, paper, LINESTYLES["source"], color=COLORS["source"], label="paper (read-off, same task)")
    a.set(xlabel="width $n$", ylabel="test loss", title=label)
    a.legend(fontsize=7)
