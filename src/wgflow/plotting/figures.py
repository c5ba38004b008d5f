r"""Particle pictures: units of a 2-homogeneous network drawn in the plane of a teacher.

A ReLU unit theta = (c, w) acts on the network only through the direction of w and the
product |c||w| (2-homogeneity), so Chizat & Bach (NeurIPS 2018, Fig. 2) draw each unit at

    |c| w  projected on a plane (the span of two teacher directions),

coloured by the sign of c, its trajectory as a tail that fades into the past, and the teacher's
units as arrows. :func:`draw_particles` draws one frame on an axis, :func:`particle_figure` a
static figure, :func:`particle_animation` returns a writer ``write(path)`` for an animated GIF
(matplotlib.animation + Pillow) or MP4 (ffmpeg, when installed), which is what
``ctx.save_figure(name, writer)`` expects.

References
----------
1. L. Chizat & F. Bach, NeurIPS 2018, §4, Fig. 2 (particle trajectories).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import ConfigError
from .style import COLORS, LINESTYLES, RC, figure, subplots, use_style
from .verdicts import Caption, state_verdicts, verdict_problems

__all__ = [
    "plane_basis",
    "unit_positions",
    "draw_particles",
    "particle_figure",
    "particle_animation",
    "COLORS",
    "LINESTYLES",
    "use_style",
    "figure_settings",
    "figure_style",
    "readable_log_ticks",
    "declutter_ticks",
    "finish",
    "save",
    "figure_problems",
    "Caption",
    "state_verdicts",
]


def _plt() -> SimpleNamespace:
    """The part of ``matplotlib.pyplot`` wgflow's figure code uses (``subplots``, ``close``, ``get_cmap``), making
    figures in wgflow's style (:func:`~wgflow.plotting.style.subplots`) without pyplot's global backend and rcParams."""
    import matplotlib

    return SimpleNamespace(subplots=subplots, figure=figure, close=_close, get_cmap=matplotlib.colormaps.get_cmap)


def _close(fig=None) -> None:
    """Figures of :func:`~wgflow.plotting.style.figure` are not pyplot's: nothing holds them but their owner."""


def plane_basis(directions: np.ndarray) -> np.ndarray:
    """Orthonormal basis (2, d) of the span of the first two rows of ``directions`` (k, d).

    With one direction (or collinear ones) the plane is completed by the first coordinate axis
    not parallel to it.
    """
    w = np.asarray(directions, dtype=float)
    cand = np.vstack([w, np.eye(w.shape[1])])
    q, r = np.linalg.qr(cand[: min(len(cand), w.shape[1])].T)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(r).max())
    return q[:, keep][:, :2].T


def unit_positions(snapshots: np.ndarray, basis: np.ndarray, d: int | None = None) -> np.ndarray:
    """|c| w projected on ``basis`` (2, d): snapshots (S, n, p) or (n, p) -> (S, n, 2) or (n, 2).

    Column 0 of theta is c and columns 1..d are w (extra columns, e.g. a tangent model's anchor, are
    ignored).
    """
    s = np.asarray(snapshots, dtype=float)
    d = basis.shape[1] if d is None else d
    return (np.abs(s[..., :1]) * s[..., 1 : 1 + d]) @ basis.T


def draw_particles(
    ax,
    pos: np.ndarray,
    sign: np.ndarray,
    teacher: np.ndarray | None = None,
    *,
    upto: int | None = None,
    tail: int | None = None,
    lim: float | None = None,
    colors: Sequence[str] = ("C0", "C3"),
    title: str | None = None,
) -> None:
    """One frame: particles at pos[upto] (S, n, 2), tails over the previous ``tail`` snapshots.

    sign (n,): sign of c (colours[0] for c < 0, colours[1] for c > 0). teacher (m0, 2): teacher
    units at |c*| w* in the same plane, drawn as arrows from the origin. Tails fade (alpha grows
    linearly towards the present).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    S = pos.shape[0]
    upto = S - 1 if upto is None else upto
    start = 0 if tail is None else max(0, upto - tail)
    seg_pos = pos[start : upto + 1]  # (s, n, 2)
    if seg_pos.shape[0] > 1:
        segs = np.stack([seg_pos[:-1], seg_pos[1:]], axis=2)  # (s-1, n, 2, 2)
        fade = np.linspace(0.05, 0.7, segs.shape[0])  # (s-1,)
        for side, col in zip((-1, 1), colors):
            idx = np.where(np.where(sign >= 0, 1, -1) == side)[0]
            if idx.size == 0:
                continue
            rgba = np.array([to_rgba(col, a) for a in fade])  # (s-1, 4)
            lc = LineCollection(
                segs[:, idx].reshape(-1, 2, 2),  # type: ignore[arg-type]  # an (N, 2, 2) array is accepted; the stub says Sequence
                colors=np.repeat(rgba, idx.size, axis=0),
                linewidths=0.8,
            )
            ax.add_collection(lc)
    now = pos[upto]
    ax.scatter(now[:, 0], now[:, 1], s=10, c=np.where(sign >= 0, colors[1], colors[0]), zorder=3, lw=0)
    for col, lab in zip(colors, ("units with $c < 0$", "units with $c > 0$")):
        ax.scatter([], [], s=10, c=col, lw=0, label=lab)
    if teacher is not None:
        for _j, (u, v) in enumerate(np.asarray(teacher)):
            ax.annotate("", xy=(u, v), xytext=(0, 0), zorder=4, arrowprops=dict(arrowstyle="-|>", color="k", lw=1.4))
        ax.plot([], [], "k-", label="teacher units $|c^*|\\, w^*$")
    ax.legend(loc="upper right", fontsize=7)
    if lim is None:
        pts = [pos.reshape(-1, 2)] + ([np.asarray(teacher)] if teacher is not None else [])
        lim = 1.1 * max(1e-12, float(np.abs(np.vstack(pts)).max()))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xlabel(r"$|c|\, w \cdot e_1$")
    ax.set_ylabel(r"$|c|\, w \cdot e_2$")
    if title:
        ax.set_title(title, fontsize=9)


def particle_figure(
    snapshots: np.ndarray, basis: np.ndarray, teacher_theta: np.ndarray | None = None, title: str | None = None, ax=None
):
    """Static picture of a whole trajectory (S, n, p): full fading tails, final positions, teacher arrows.

    Returns the figure (or draws on ``ax`` and returns its figure).
    """
    fig = None
    if ax is None:
        fig, ax = subplots(figsize=(5, 5))
    pos = unit_positions(snapshots, basis)
    teacher = None if teacher_theta is None else unit_positions(teacher_theta, basis)
    draw_particles(ax, pos, np.sign(np.asarray(snapshots)[-1, :, 0]), teacher, title=title)
    return fig if fig is not None else ax.figure


def particle_animation(
    snapshots: np.ndarray,
    basis: np.ndarray,
    teacher_theta: np.ndarray | None = None,
    *,
    times: np.ndarray | None = None,
    tail: int = 8,
    fps: int = 8,
    title: str = "particles",
) -> Callable[[str], None]:
    """A writer ``write(path)`` rendering one frame per snapshot; GIF (Pillow) or MP4 (ffmpeg) by suffix.

    The axis limits are fixed over the animation (the largest |c| w over all frames).
    """

    def write(path) -> None:
        from matplotlib import animation

        pos = unit_positions(snapshots, basis)  # (S, n, 2)
        teacher = None if teacher_theta is None else unit_positions(teacher_theta, basis)
        sign_all = np.sign(np.asarray(snapshots)[..., 0])  # (S, n)
        pts = [pos.reshape(-1, 2)] + ([teacher] if teacher is not None else [])
        lim = 1.1 * max(1e-12, float(np.abs(np.vstack(pts)).max()))
        fig, ax = subplots(figsize=(4.5, 4.5))

        def frame(k):
            ax.clear()
            label = title if times is None else f"{title}  t = {times[k]:.3g}"
            draw_particles(ax, pos, sign_all[k], teacher, upto=k, tail=tail, lim=lim, title=label)

        anim = animation.FuncAnimation(fig, frame, frames=pos.shape[0], interval=1000 / fps)
        path = str(path)
        writer: animation.AbstractMovieWriter
        if path.endswith(".mp4"):
            writer = animation.FFMpegWriter(fps=fps)
        else:
            writer = animation.PillowWriter(fps=fps)
        anim.save(path, writer=writer)

    return write


# --------------------------------------------------------------------------- finishing and saving
# The style itself is :mod:`.style`. Experiments draw with matplotlib as they like (pyplot, the
# object-oriented API, or :func:`_plt`); the run context calls :func:`finish` on each figure before
# saving it (``ctx.save_figure``), so every figure gets readable log ticks and labels that never
# collide, and :func:`save` writes it in the format and resolution asked on the command line
# (``--figure-format``, ``--dpi``).

FIGURE_FORMATS = ("png", "pdf", "svg")
DEFAULT_DPI = 150
ENV_FORMAT, ENV_DPI = "WGFLOW_FIGURE_FORMAT", "WGFLOW_FIGURE_DPI"
#: ``report``: a figure's title states its claims' verdicts; ``paper``: its title states the claim alone and
#: the verdicts go to its caption (:func:`wgflow.plotting.verdicts.state_verdicts`)
FIGURE_STYLES = ("report", "paper")
ENV_STYLE = "WGFLOW_FIGURE_STYLE"
#: vector formats saved with a PNG preview beside them (``<stem>.png``), which the report shows
PREVIEWED = ("pdf", "svg")
#: rcParams read when a file is written: every saved figure gets them, whoever made it
_OUTPUT_RC: Any = {k: RC[k] for k in ("svg.fonttype", "pdf.fonttype")}


def figure_settings(figure_format: str | None = None, dpi: int | None = None) -> tuple[str, int]:
    """The format and dpi to save with: the arguments, else ``$WGFLOW_FIGURE_FORMAT`` / ``$WGFLOW_FIGURE_DPI``."""
    import os

    f = (figure_format or os.environ.get(ENV_FORMAT) or "png").lower().lstrip(".")
    if f not in FIGURE_FORMATS:
        raise ConfigError(f"figure format {f!r} is not supported; choose one of: {', '.join(FIGURE_FORMATS)}")
    raw = dpi if dpi is not None else os.environ.get(ENV_DPI) or DEFAULT_DPI
    try:
        d = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"dpi must be a whole number, got {raw!r}") from None
    if not 30 <= d <= 1200:
        raise ConfigError(f"dpi must be in [30, 1200], got {d}")
    return f, d


def figure_style(style: str | None = None) -> str:
    """Where a figure states its claims' verdicts: ``style``, else ``$WGFLOW_FIGURE_STYLE``, else ``report``
    (one of :data:`FIGURE_STYLES`)."""
    import os

    s = (style or os.environ.get(ENV_STYLE) or "report").lower()
    if s not in FIGURE_STYLES:
        raise ConfigError(f"figure style {s!r} is not supported; choose one of: {', '.join(FIGURE_STYLES)}")
    return s


def _decades(lo: float, hi: float) -> float:
    lo, hi = sorted((abs(lo), abs(hi)))
    return float(np.log10(hi / lo)) if lo > 0 else float("inf")


def _short_number(v: float, pos=None) -> str:
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.1e}".replace("e-0", "e-").replace("e+0", "e")


def readable_log_ticks(ax) -> None:
    """Log axes spanning under two decades get plain numbers at 1-2-5 steps instead of crowded 10^k labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log" or _decades(*lim) >= 2:
            continue
        span = _decades(*lim)
        if span < 0.5:  # a narrow log axis: evenly spaced round numbers read best
            axis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
        else:
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0) if span < 1 else (1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(_short_number))
        axis.set_minor_formatter(NullFormatter())


def _label_boxes(axis, renderer):
    ticks = [(t, True) for t in axis.get_major_ticks()] + [(t, False) for t in axis.get_minor_ticks()]
    for tick, major in ticks:
        for lab in (tick.label1, tick.label2):
            if lab.get_visible() and lab.get_text().strip():
                yield lab, lab.get_window_extent(renderer), major


def _overlap(a, b, pad: float = 1.0) -> bool:
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


@contextmanager
def _drawn(fig):
    """Draw ``fig`` and yield a renderer to measure its texts with.

    The figure's own canvas when it has a renderer (Agg, the inline backend); a figure made with
    ``matplotlib.figure.Figure()`` (a bare ``FigureCanvasBase``) gets an Agg canvas for good; one on a
    file backend's canvas (``matplotlib.use("svg")``) is measured on an Agg canvas and given its own back.
    """
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    own = fig.canvas
    if not hasattr(own, "get_renderer"):
        FigureCanvasAgg(fig)
    try:
        fig.canvas.draw()
        yield fig.canvas.get_renderer()
    finally:
        if fig.canvas is not own and type(own) is not FigureCanvasBase:
            fig.set_canvas(own)


def declutter_ticks(fig) -> None:
    """Hide tick labels that would overlap one already kept (major labels first, then minor)."""
    with _drawn(fig) as renderer:
        _declutter(fig, renderer)


def _declutter(fig, renderer) -> None:
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            kept: list[Any] = []
            for lab, box, _ in sorted(_label_boxes(axis, renderer), key=lambda t: not t[2]):
                if any(_overlap(box, k) for k in kept):
                    lab.set_visible(False)
                else:
                    kept.append(box)


def finish(fig) -> None:
    """What every saved figure gets: readable log ticks and tick labels that do not collide."""
    for ax in fig.axes:
        readable_log_ticks(ax)
    declutter_ticks(fig)


def save(fig, path, dpi: int | None = None) -> None:
    """:func:`finish` then save (format from the suffix of ``path``, tight bounding box, text kept as text in
    SVG and PDF). Any matplotlib figure: made by pyplot on any backend, by ``Figure()``, or by :func:`subplots`."""
    import matplotlib

    finish(fig)
    with matplotlib.rc_context(_OUTPUT_RC):
        fig.savefig(path, dpi=dpi or DEFAULT_DPI, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])


def figure_problems(fig) -> list[str]:
    """What makes a figure unfit for a paper: colliding tick labels, unlabelled axes, labelled series
    without a legend, no title, and for a figure bound to claims (:mod:`wgflow.plotting.verdicts`) a title that does not state their verdicts.

    Returns one line per problem (empty: fine). Axes switched off (``ax.axis("off")``) and
    colour bars need no labels.
    """
    with _drawn(fig) as renderer:
        return _problems(fig, renderer)


def _problems(fig, renderer) -> list[str]:
    out = []
    titled = bool(fig._suptitle and fig._suptitle.get_text().strip())
    shown = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    legends = {t.get_text() for leg in shown for t in leg.get_texts()}
    for i, ax in enumerate(fig.axes):
        name = ax.get_title() or f"axes {i}"
        titled = titled or bool(ax.get_title().strip())
        if not ax.axison or getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>":
            continue
        for axis, letter in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            boxes = [b for _, b, _ in _label_boxes(axis, renderer)]
            if any(_overlap(a, b, pad=0.0) for j, a in enumerate(boxes) for b in boxes[j + 1 :]):
                out.append(f"{name}: {letter} tick labels overlap")
            if boxes and not axis.get_label_text().strip():
                out.append(f"{name}: no {letter} label")
        labelled = [a.get_label() for a in ax.get_lines() + ax.collections if not a.get_label().startswith("_")]
        if len(labelled) > 1 and not set(labelled) <= legends:  # a legend shared by the panels will do
            out.append(f"{name}: {len(labelled)} labelled series, not all in a legend")
        ylab = ax.yaxis.label
        if ylab.get_text().strip():
            box = ylab.get_window_extent(renderer)
            for other in fig.axes:
                if other is not ax and other.axison and _overlap(box, other.get_window_extent(renderer), pad=0.0):
                    out.append(f"{name}: y label runs into another panel")
                    break
    if not titled:
        out.append("figure has no title")
    return out + verdict_problems(fig)
