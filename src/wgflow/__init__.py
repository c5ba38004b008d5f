"""wgflow: neural-network training as particles flowing in Wasserstein space.

Two-layer networks are particle measures trained by (noisy) gradient flows in
mean-field time; residual networks transport the data distribution. The public
API is re-exported here; see README.md for a tour.
"""

from ._version import __version__
from .closed_forms import arccos_kernel
from .errors import ConfigError, DivergenceError
from .flows import FlowConfig, train
from .measure import ParticleMeasure
from .data import load_xy
from .interop import from_module, to_module
from .observe import Observer, plot_flow, plot_particles, watch
from .regime import lazy_or_active, linearisation_gap, relative_movement
from .linearized import Tangent, symmetric_init, tangent_theta
from .margins import classification_error, f1_margin, margin
from .objectives import DatasetRisk, OnlineRisk, PopulationRisk
from .residual import (
    NeuralODE,
    ObjectiveConfig,
    ResidualStack,
    kinetic_energy,
    kinetic_ratio,
    line_shape_score,
    mccann_interpolation,
    optimal_transport_score,
    path_distance,
    regularised_objective,
    resample_path,
    train_residual,
    w2_squared,
)
from .stats import PowerLawFit, fit_power_law
from . import limits
from .tasks.clusters import ClustersTask
from .tasks.gaussians import IsotropicGaussians, IsotropicGaussiansRisk
from .tasks.teacher import ReLUTeacher, gaussian_sampler, sphere_sampler
from .tasks.three_spin import ThreeSpin
from .trajectory import Trajectory
from .transport import (
    barycentric_map,
    energy_dissipation,
    gaussian_w2,
    metric_speed,
    ot_assignment,
    projected_w2,
    sphere_projection,
    tracked_w2,
    w2_between,
    w2_from_start,
    wasserstein,
)
from .units import PiecewiseLinear, RBFSphere, ReLU, Sigmoid, Tanh, make_unit

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
    # The experiment registry imports every experiment module: load it on first use only.
    if name == "load_runs":  # needs pandas (the optional extra "pandas")
        from .export import load_runs

        return load_runs
    if name in ("get_experiment", "list_experiments", "run_experiment"):
        from .experiments import base

        return getattr(base, name)
    raise AttributeError(f"module 'wgflow' has no attribute {name!r}")
