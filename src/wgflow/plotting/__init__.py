"""Figures: particle pictures, the house style, checks that a figure can be read, and claims' verdicts.

:mod:`.figures` (particle pictures, style, tick fixes, saving) and :mod:`.verdicts` (figures bound to
the claims they illustrate).
"""

from .figures import (
    COLORS,
    LINESTYLES,
    declutter_ticks,
    draw_particles,
    figure_problems,
    figure_settings,
    finish,
    particle_animation,
    particle_figure,
    plane_basis,
    readable_log_ticks,
    save,
    unit_positions,
    use_style,
)
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
    "figure_settings",
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
