"""Optimal transport for particle flows: distances, maps and diagnostics (issue 3)."""

from .distances import METHODS, ApproximationWarning, WassersteinResult, wasserstein

__all__ = ["METHODS", "ApproximationWarning", "WassersteinResult", "wasserstein"]
