"""wgflow's figure style, carried by the figures themselves rather than by matplotlib's global state.

One style (:data:`RC`) for every figure of wgflow, applied without touching ``matplotlib.rcParams``
or the backend: :func:`subplots` and :func:`figure` make figures on their own Agg canvas (not
registered with pyplot), whose methods that create artists (axes, titles, legends, texts, colour
bars) and that draw or save run under ``matplotlib.rc_context(RC)``. A user's notebook keeps its
inline or widget backend and its own rcParams; a figure of wgflow is displayed by returning it
(IPython renders a ``Figure``) and saved with :func:`wgflow.plotting.save`.

Artists created without going through the figure or its axes (``Line2D(...)`` added by hand)
read the global rcParams like any matplotlib artist; :data:`RC` sets none of their properties.
"""

from __future__ import annotations

import functools
from typing import Any, cast

__all__ = ["RC", "COLORS", "LINESTYLES", "use_style", "subplots", "figure"]

#: colours by role, so a reader recognises them across figures (use ``color=COLORS["control"]``).
COLORS = {"trained": "C0", "control": "0.55", "reference": "k", "theory": "C3", "source": "C2"}
#: line styles by role (the reference / theory is dashed, the control dotted).
LINESTYLES = {"trained": "-", "control": ":", "reference": "--", "theory": "--", "source": "-."}

RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.framealpha": 0.85,
    "figure.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "figure.constrained_layout.use": False,
}

# methods that create artists reading rcParams at creation (fonts, spines), or draw / save (ticks made
# during a draw, the fonttype of SVG and PDF output)
_AXES_METHODS = ("clear", "set_title", "legend", "text", "annotate", "table", "inset_axes")
_FIGURE_METHODS = (
    "suptitle",
    "supxlabel",
    "supylabel",
    "legend",
    "text",
    "colorbar",
    "clear",
    "draw",
    "savefig",
)


def use_style() -> None:
    """Apply :data:`RC` to matplotlib's global defaults, for a script that wants every figure in wgflow's style.

    wgflow never calls it: its own figures carry the style (:func:`subplots`).
    """
    import matplotlib

    matplotlib.rcParams.update(RC)  # type: ignore[arg-type]  # the stub wants Literal rc names; matplotlib validates the keys at runtime


def _styled(method):
    """``method`` run under ``rc_context(RC)``."""

    @functools.wraps(method)
    def inner(self, *args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(cast(Any, RC)):
            return method(self, *args, **kwargs)

    return inner


def _with_styled_axes(method, axes_class):
    """``add_subplot`` / ``add_axes`` making ``axes_class`` axes unless a projection or class is asked for."""

    @functools.wraps(method)
    def inner(self, *args, **kwargs):
        if not {"projection", "polar", "axes_class"} & kwargs.keys():
            kwargs["axes_class"] = axes_class
        return method(self, *args, **kwargs)

    return _styled(inner)


@functools.cache
def _figure_class() -> type:
    """The styled Figure class (built on first use: importing matplotlib.figure would slow the CLI's start-up)."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    axes_class = type("StyledAxes", (Axes,), {m: _styled(getattr(Axes, m)) for m in _AXES_METHODS})
    methods = {m: _styled(getattr(Figure, m)) for m in _FIGURE_METHODS}
    methods |= {m: _with_styled_axes(getattr(Figure, m), axes_class) for m in ("add_subplot", "add_axes")}
    return type("StyledFigure", (Figure,), {**methods, "__module__": __name__})


def figure(**kwargs):
    """A matplotlib ``Figure`` in wgflow's style on its own Agg canvas; ``kwargs`` go to ``Figure`` (figsize, layout, dpi).

    Not registered with pyplot: nothing else sees it, it is freed when unreferenced, and the global
    backend and rcParams are left as they are.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with matplotlib.rc_context(cast(Any, RC)):
        fig = _figure_class()(**kwargs)
    FigureCanvasAgg(fig)
    return fig


_SUBPLOTS_KEYS = ("sharex", "sharey", "squeeze", "width_ratios", "height_ratios", "subplot_kw", "gridspec_kw")


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(fig, axes)`` as ``matplotlib.pyplot.subplots`` returns them, on a :func:`figure` in wgflow's style.

    Keyword arguments of ``Figure.subplots`` (sharex, squeeze, subplot_kw, ...) go there, the others to
    ``Figure`` (figsize, layout, dpi).
    """
    grid = {k: kwargs.pop(k) for k in _SUBPLOTS_KEYS if k in kwargs}
    fig = figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, **grid)
