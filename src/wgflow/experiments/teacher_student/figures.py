"""teacher-student's figures: the first draw's particles, and its risk, distances and dissipation along the flow."""

from __future__ import annotations

import numpy as np

from ...plotting.figures import COLORS, LINESTYLES, _plt, particle_figure, plane_basis


def particles(ctx, r0: dict) -> str:
    """The first draw's units |c| w in the teacher's plane along the flow, with the teacher's units."""
    ratio = r0["w2_teacher"][-1] / r0["w2_teacher"][0]
    title = f"$W_2$ to the teacher's units: {ratio:.2f} of its start (first draw)"
    basis = plane_basis(np.asarray(r0["teacher"])[:, 1:])
    fig = particle_figure(np.asarray(r0["snapshots"]), basis, np.asarray(r0["teacher"]), title=title)
    return ctx.save_figure("teacher_student_particles", fig)


def risk(ctx, r0: dict, rf0: dict, w2_curve, check: dict, orders: tuple[float, float]) -> str:
    """Risk of the flow and of the random-features control, W2 curves and the dissipation check (first draw)."""
    plt = _plt()  # matplotlib with the file backend

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    t, tr = r0["risk_times"], "mean-field time $t$"
    ax[0].semilogy(t, r0["risk"], color=COLORS["trained"], label="mean-field flow")
    ax[0].semilogy(
        rf0["risk_times"], rf0["risk"], LINESTYLES["control"], color=COLORS["control"], label="first layer frozen"
    )
    ax[0].set(xlabel=tr, ylabel=r"population risk $R(\mu_t)$", title="risk")
    ax[0].legend()
    ax[1].plot(r0["snapshot_times"], w2_curve, "o-", ms=3, color=COLORS["trained"], label=r"$W_2(\mu_t, \mu_0)$")
    ax[1].plot(
        r0["snapshot_times"],
        r0["w2_teacher"],
        "s-",
        ms=3,
        color=COLORS["reference"],
        label=r"$W_2(h(\mu_t), h(\mathrm{teacher}))$",
    )
    ax[1].set(xscale="symlog", xlabel=tr, ylabel="$W_2$", title="distance travelled / to the teacher")
    ax[1].legend()
    ax[2].plot(
        check["times"], -np.asarray(check["dRdt"]), color=COLORS["trained"], label="$-dR/dt$ (finite difference)"
    )
    ax[2].plot(
        check["times"],
        -np.asarray(check["rate"]),
        LINESTYLES["theory"],
        color=COLORS["theory"],
        label=r"$\|\nabla V\|^2_{L^2(\mu_t)}$",
    )
    ax[2].set(xlabel=tr, ylabel="dissipation rate", yscale="log", title="energy dissipation")
    ax[2].legend()
    fig.suptitle(
        f"$\\log_{{10}} R_0/R_T$, mean over draws: {orders[0]:.2g} (flow), {orders[1]:.2g} (first layer frozen)"
    )
    return ctx.save_figure("teacher_student_risk", fig)
