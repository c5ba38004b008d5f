"""wgflow: neural-network training as particles flowing in Wasserstein space.

Two-layer networks are particle measures trained by (noisy) gradient flows in
mean-field time; residual networks transport the data distribution. The public
API is re-exported here; see README.md for a tour.

Every name is loaded on first use (PEP 562 ``__getattr__``): ``import wgflow`` does not
import torch, so the console script starts fast. ``from wgflow import X`` works as usual.
"""

import importlib

from ._version import __version__
from .errors import ConfigError, DivergenceError

# name -> submodule defining it (imported on first access)
_LAZY = {
    "arccos_kernel": "closed_forms",
    "FlowConfig": "flows",
    "train": "flows",
    "ParticleMeasure": "measure",
    "load_xy": "data",
    "from_module": "interop",
    "to_module": "interop",
    "Observer": "observe",
    "plot_flow": "observe",
    "plot_particles": "observe",
    "watch": "observe",
    "lazy_or_active": "regime",
    "linearisation_gap": "regime",
    "relative_movement": "regime",
    "Tangent": "linearized",
    "symmetric_init": "linearized",
    "tangent_theta": "linearized",
    "classification_error": "margins",
    "f1_margin": "margins",
    "margin": "margins",
    "DatasetRisk": "objectives",
    "OnlineRisk": "objectives",
    "PopulationRisk": "objectives",
    **dict.fromkeys(
        [
            "NeuralODE",
            "ObjectiveConfig",
            "ResidualStack",
            "kinetic_energy",
            "kinetic_ratio",
            "line_shape_score",
            "mccann_interpolation",
            "optimal_transport_score",
            "path_distance",
            "regularised_objective",
            "resample_path",
            "train_residual",
            "w2_squared",
        ],
        "residual",
    ),
    "PowerLawFit": "stats",
    "fit_power_law": "stats",
    "ClustersTask": "tasks.clusters",
    "IsotropicGaussians": "tasks.gaussians",
    "IsotropicGaussiansRisk": "tasks.gaussians",
    "ReLUTeacher": "tasks.teacher",
    "gaussian_sampler": "tasks.teacher",
    "sphere_sampler": "tasks.teacher",
    "ThreeSpin": "tasks.three_spin",
    "Trajectory": "trajectory",
    **dict.fromkeys(
        [
            "barycentric_map",
            "energy_dissipation",
            "gaussian_w2",
            "metric_speed",
            "ot_assignment",
            "projected_w2",
            "sphere_projection",
            "tracked_w2",
            "w2_between",
            "w2_from_start",
            "wasserstein",
        ],
        "transport",
    ),
    **dict.fromkeys(["PiecewiseLinear", "RBFSphere", "ReLU", "Sigmoid", "Tanh", "make_unit"], "units"),
    "load_runs": "export",  # needs pandas (the optional extra "pandas")
    # the experiment registry imports every experiment module
    "get_experiment": "experiments.base",
    "list_experiments": "experiments.base",
    "run_experiment": "experiments.base",
}
_SUBMODULES = {"limits"}

__all__ = [
    "__version__",
    "ConfigError",
    "DatasetRisk",
    "DivergenceError",
    "FlowConfig",
    "OnlineRisk",
    "ParticleMeasure",
    "PiecewiseLinear",
    "PopulationRisk",
    "RBFSphere",
    "ReLU",
    "ReLUTeacher",
    "Sigmoid",
    "Tanh",
    "Trajectory",
    "arccos_kernel",
    "gaussian_sampler",
    "make_unit",
    "sphere_sampler",
    "train",
    # your own PyTorch networks
    "from_module",
    "to_module",
    "Observer",
    "watch",
    "plot_flow",
    "plot_particles",
    "lazy_or_active",
    "linearisation_gap",
    "relative_movement",
    "load_runs",
    "load_xy",
    # transport
    "barycentric_map",
    "energy_dissipation",
    "gaussian_w2",
    "metric_speed",
    "ot_assignment",
    "projected_w2",
    "sphere_projection",
    "tracked_w2",
    "w2_between",
    "w2_from_start",
    "wasserstein",
    # lazy training and classification
    "Tangent",
    "classification_error",
    "f1_margin",
    "margin",
    "symmetric_init",
    "tangent_theta",
    # residual networks
    "NeuralODE",
    "ObjectiveConfig",
    "ResidualStack",
    "kinetic_energy",
    "kinetic_ratio",
    "line_shape_score",
    "mccann_interpolation",
    "optimal_transport_score",
    "path_distance",
    "regularised_objective",
    "resample_path",
    "train_residual",
    "w2_squared",
    # tasks
    "ClustersTask",
    "IsotropicGaussians",
    "IsotropicGaussiansRisk",
    "ThreeSpin",
    # experiments and limits
    "get_experiment",
    "limits",
    "list_experiments",
    "run_experiment",
    # statistics
    "PowerLawFit",
    "fit_power_law",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'wgflow' has no attribute {name!r}")
    if name != "load_runs":  # cache (load_runs stays lazy: pandas is optional)
        globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
