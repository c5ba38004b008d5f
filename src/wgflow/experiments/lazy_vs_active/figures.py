"""lazy-vs-active's figures: test losses and movement against the output scale, particles at both ends."""

from __future__ import annotations

import numpy as np

from ...plotting.figures import COLORS, LINESTYLES, _plt, particle_figure, plane_basis


def curves(ctx, taus, test, test_lin, move, gap, slope: float) -> str:
    """Test losses (draw means) and the movement of every draw (move: (draws, taus)) against tau."""
    plt = _plt()  # matplotlib with the file backend

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    ax[0].loglog(taus, test, "o-", color=COLORS["trained"], label="network")
    ax[0].loglog(taus, test_lin, "s--", color=COLORS["control"], label="linearised model")
    ax[0].set(xlabel=r"output scale $\tau$", ylabel="test loss", title="test loss after training")
    ax[0].legend(fontsize=8)
    for s, mv in enumerate(move):
        lab = r"$|\theta_T - \theta_0| / |\theta_0|$ (each draw)" if s == 0 else None
        ax[1].loglog(taus, mv, "o-", color=COLORS["trained"], alpha=0.4, ms=2, label=lab)
    ax[1].loglog(taus, gap, "s--", color=COLORS["source"], label=r"$|f - f_{lin}| / |f_{lin}|$ (test, mean)")
    ref = move[:, -1].mean() * taus[-1] / np.array(taus)
    ax[1].loglog(taus, ref, LINESTYLES["theory"], color=COLORS["theory"], lw=0.8, label=r"$1/\tau$ (theory)")
    ax[1].set(xlabel=r"output scale $\tau$", ylabel="relative change", title="movement and gap to the linearisation")
    ax[1].legend(fontsize=8)
    fig.suptitle(
        f"test loss active / lazy = {test[0] / test[-1]:.2g}; "
        f"movement $\\propto \\tau^{{{slope:.2f}}}$ over the lazy window (theory $\\tau^{{-1}}$)"
    )
    return ctx.save_figure("lazy_active_curves", fig)


def particles(ctx, teacher, tag: str, tau: float, snapshots, move: float) -> str:
    """The first draw's units in the teacher's plane at output scale tau."""
    title = f"{tag} ($\\tau$ = {tau:.3g}): the units move {move:.2g} of their initial norm"
    fig = particle_figure(snapshots, plane_basis(teacher.w.numpy()), teacher.measure.numpy(), title=title)
    return ctx.save_figure(f"lazy_active_particles_{tag}", fig)
