"""wgflow: neural-network training as particles flowing in Wasserstein space.

Two-layer networks are particle measures trained by (noisy) gradient flows in
mean-field time; residual networks transport the data distribution. The top level holds
the few names a first run needs (see README.md for a tour)::

    unit = wg.ReLU(d)
    mu = wg.ParticleMeasure(unit.init(n, generator=g), unit)  # a measure of n units
    traj = wg.train(mu, wg.PopulationRisk(teacher), wg.FlowConfig(eta=0.5, steps=2000))
    wg.wasserstein(traj.snapshots[0], traj.snapshots[-1])

everything else lives in packages, one per concept: ``wg.measures`` (unit families, particle
measures, the tangent model), ``wg.objectives`` (risks, closed forms, margins), ``wg.flows``
(training, ensembles, trajectories, lazy/active diagnostics),
``wg.transport`` (W2 variants, couplings, diagnostics), ``wg.residual`` (deep residual networks),
``wg.limits`` (mean-field limits), ``wg.tasks`` (teachers and data sets), ``wg.experiments`` (the
reproduced papers); the product: ``wg.store``, ``wg.report``, ``wg.cli``, ``wg.parallel``,
``wg.interop`` (a user's models, data and tools), ``wg.plotting``; and the neutral helpers
``wg.stats``, ``wg.control`` (the negative control) and ``wg.errors``.

Every name is loaded on first use (PEP 562 ``__getattr__``): ``import wgflow`` does not
import torch, so the console script starts fast.
"""

import importlib

from ._version import __version__
from .errors import ConfigError, DivergenceError

# public name -> submodule defining it (imported on first access)
_LAZY = {
    "ParticleMeasure": "measures",
    "ReLU": "measures",
    "Sigmoid": "measures",
    "Tanh": "measures",
    "PopulationRisk": "objectives",
    "DatasetRisk": "objectives",
    "OnlineRisk": "objectives",
    "FlowConfig": "flows",
    "train": "flows",
    "Trajectory": "flows",
    "wasserstein": "transport",
    "run_experiment": "experiments",
}
# namespaces listed in __all__, and further public modules reachable as attributes
_NAMESPACES = ["transport", "residual", "tasks", "limits", "experiments"]
_MODULES = {
    *_NAMESPACES,
    *("measures", "objectives", "flows", "interop", "plotting", "stats", "control", "errors"),
    *("store", "report", "parallel", "cli"),
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
    else:
        raise AttributeError(f"module 'wgflow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
