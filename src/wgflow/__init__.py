"""wgflow: neural-network training as particles flowing in Wasserstein space.

Two-layer networks are particle measures trained by (noisy) gradient flows in
mean-field time; residual networks transport the data distribution. The top level holds
the few names a first run needs (see README.md for a tour)::

    unit = wg.ReLU(d)
    mu = wg.ParticleMeasure(unit.init(n, generator=g), unit)  # a measure of n units
    traj = wg.train(mu, wg.PopulationRisk(teacher), wg.FlowConfig(eta=0.5, steps=2000))
    wg.wasserstein(traj.snapshots[0], traj.snapshots[-1])

everything else lives in namespaces: ``wg.transport`` (W2 variants, couplings, diagnostics),
``wg.residual`` (deep residual networks), ``wg.tasks`` (teachers and data sets), ``wg.limits``
(mean-field limits), ``wg.experiments`` (the reproduced papers), and the modules
``wg.units``, ``wg.objectives``, ``wg.observe``, ``wg.interop``, ``wg.regime``, ``wg.margins``,
``wg.stats``, ``wg.data``, ``wg.export``, ...

Every name is loaded on first use (PEP 562 ``__getattr__``): ``import wgflow`` does not
import torch, so the console script starts fast. Names that used to be at the top level
still resolve there, with a :class:`DeprecationWarning` naming their namespace.
"""

import importlib
import warnings

from ._version import __version__
from .errors import ConfigError, DivergenceError

# public name -> submodule defining it (imported on first access)
_LAZY = {
    "ParticleMeasure": "measure",
    "ReLU": "units",
    "Sigmoid": "units",
    "Tanh": "units",
    "PopulationRisk": "objectives",
    "DatasetRisk": "objectives",
    "OnlineRisk": "objectives",
    "FlowConfig": "flows",
    "train": "flows",
    "Trajectory": "trajectory",
    "wasserstein": "transport",
    "run_experiment": "experiments",
}
# namespaces listed in __all__, and further public modules reachable as attributes
_NAMESPACES = ["transport", "residual", "tasks", "limits", "experiments"]
_MODULES = {
    *_NAMESPACES,
    *("units", "measure", "objectives", "flows", "trajectory", "observe", "interop", "regime"),
    *("linearized", "margins", "stats", "closed_forms", "data", "export", "control", "plotting"),
    *("store", "report", "parallel", "errors"),
}
# former top-level names -> the namespace that holds them now (resolved with a DeprecationWarning)
_MOVED = {
    **dict.fromkeys(["PiecewiseLinear", "RBFSphere", "make_unit"], "units"),
    **dict.fromkeys(["ClustersTask"], "tasks.clusters"),
    **dict.fromkeys(
        [
            "IsotropicGaussians",
            "IsotropicGaussiansRisk",
            "ReLUTeacher",
            "ThreeSpin",
            "gaussian_sampler",
            "sphere_sampler",
        ],
        "tasks",
    ),
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
        ],
        "transport",
    ),
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
    **dict.fromkeys(["get_experiment", "list_experiments"], "experiments"),
    **dict.fromkeys(["Observer", "plot_flow", "plot_particles", "watch"], "observe"),
    **dict.fromkeys(["from_module", "to_module"], "interop"),
    **dict.fromkeys(["lazy_or_active", "linearisation_gap", "relative_movement"], "regime"),
    **dict.fromkeys(["Tangent", "symmetric_init", "tangent_theta"], "linearized"),
    **dict.fromkeys(["classification_error", "f1_margin", "margin"], "margins"),
    **dict.fromkeys(["PowerLawFit", "fit_power_law"], "stats"),
    "arccos_kernel": "closed_forms",
    "load_xy": "data",
    "load_runs": "export",  # needs pandas (the optional extra "pandas")
}

__all__ = [
    "__version__",
    "ConfigError",
    "DivergenceError",
    # a measure of units, the objectives, the flow
    "ParticleMeasure",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "PopulationRisk",
    "DatasetRisk",
    "OnlineRisk",
    "FlowConfig",
    "train",
    "Trajectory",
    # optimal transport, experiments
    "wasserstein",
    "run_experiment",
    # namespaces
    "transport",
    "residual",
    "tasks",
    "limits",
    "experiments",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _MOVED:
        where = f"{__name__}.{_MOVED[name]}"
        warnings.warn(
            f"wgflow.{name} has moved: use {where}.{name} (the top level keeps a small API)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(where), name)  # not cached: every use warns
    else:
        raise AttributeError(f"module 'wgflow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
