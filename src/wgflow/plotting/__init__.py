"""Figures: particle pictures, the house style, checks that a figure can be read, and claims' verdicts.

:mod:`.style` (the house style, carried by figures made with :func:`subplots`: matplotlib's global
backend and rcParams are never changed), :mod:`.figures` (particle pictures, tick fixes, saving) and
:mod:`.verdicts` (figures bound to the claims they illustrate).
"""

from .figures import (
    declutter_ticks,
    draw_particles,
    figure_problems,
    figure_settings,
    figure_style,
    finish,
    particle_animation,
    particle_figure,
    plane_basis,
    readable_log_ticks,
    save,
    unit_positions,
)
from .style import COLORS, LINESTYLES, figure, subplots, use_style
from .verdicts import Caption, bind_claims, bound_claims, caption_text, figure_claims, state_verdicts, verdict_problems

__all__ = [
    "plane_basis",
    "unit_positions",
    "draw_particles",
    "particle_figure",
    "particle_animation",
    "COLORS",
    "LINESTYLES",
    "use_style",
    "subplots",
    "figure",
    "figure_settings",
    "figure_style",
    "readable_log_ticks",
    "declutter_ticks",
    "finish",
    "save",
    "figure_problems",
    "Caption",
    "caption_text",
    "figure_claims",
    "bind_claims",
    "bound_claims",
    "state_verdicts",
    "verdict_problems",
]
