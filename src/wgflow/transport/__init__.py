"""Optimal transport for particle flows: distances, maps and diagnostics.

* :func:`wasserstein` — W_p between weighted clouds ("exact", "1d", "sliced", "sinkhorn", "auto").
* :func:`gaussian_w2`, :func:`gaussian_ot_map` — closed forms between Gaussians (Bures).
* :func:`tracked_w2` — identity-coupling bound for tracked particles;
  :func:`sphere_projection`, :func:`projected_w2` — Chizat-Bach projection of 2-homogeneous units.
* :func:`ot_assignment`, :func:`barycentric_map` — optimal maps between clouds; :func:`assignment` — the
  optimal permutation for any square cost matrix.
* :func:`w2_from_start`, :func:`w2_between`, :func:`metric_speed`, :func:`velocity_norm`,
  :func:`energy_dissipation` — a recorded flow measured as a curve in Wasserstein space.
"""

from .diagnostics import (
    DissipationCheck,
    MetricSpeed,
    energy_dissipation,
    metric_speed,
    velocity_norm,
    w2_between,
    w2_from_start,
)
from .distances import METHODS, WassersteinResult, wasserstein
from .gaussian import gaussian_ot_map, gaussian_w2
from .maps import assignment, barycentric_map, ot_assignment
from .particles import SphereMeasure, projected_w2, sphere_projection, tracked_w2
from .sinkhorn import sinkhorn_divergence_pp
from .sliced import sliced_wasserstein_pp

__all__ = [
    "METHODS",
    "assignment",
    "DissipationCheck",
    "MetricSpeed",
    "SphereMeasure",
    "WassersteinResult",
    "barycentric_map",
    "energy_dissipation",
    "gaussian_ot_map",
    "gaussian_w2",
    "metric_speed",
    "ot_assignment",
    "projected_w2",
    "sinkhorn_divergence_pp",
    "sliced_wasserstein_pp",
    "sphere_projection",
    "tracked_w2",
    "velocity_norm",
    "w2_between",
    "w2_from_start",
    "wasserstein",
]
