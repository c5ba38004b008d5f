"""Objectives of particle measures and their first variations.

:mod:`.risks` (population, data-set and online risks), :mod:`.data` (a researcher's data as tensors
x (N, d), y (N,)), :mod:`.closed_forms` (the arc-cosine kernel of
ReLU units under Gaussian inputs) and :mod:`.margins` (margins of two-layer classifiers and the
max-margin classifiers they are compared with).
"""

from .closed_forms import arccos_kernel, arccos_kernel_grad, arccos_terms
from .data import as_tensors, load_xy
from .margins import (
    F1MaxMargin,
    F2MaxMargin,
    SmoothMargin,
    classification_error,
    f1_margin,
    f1_max_margin,
    f2_margin,
    f2_max_margin,
    margin,
)
from .risks import LOSSES, DatasetRisk, EnsembleRisk, Objective, OnlineRisk, PopulationRisk

__all__ = [
    "Objective",
    "EnsembleRisk",
    "PopulationRisk",
    "DatasetRisk",
    "OnlineRisk",
    "LOSSES",
    "load_xy",
    "as_tensors",
    "arccos_kernel",
    "arccos_kernel_grad",
    "arccos_terms",
    "SmoothMargin",
    "F1MaxMargin",
    "F2MaxMargin",
    "margin",
    "f1_margin",
    "f2_margin",
    "f1_max_margin",
    "f2_max_margin",
    "classification_error",
]
