"""A researcher's own models, data and tools.

:mod:`.modules` (a PyTorch two-layer network as a particle measure, and back), :mod:`.observe`
(watch a user's own training loop as a recorded particle flow, recorded in the store by
:mod:`.observe_store`), :mod:`.pictures` (figures of a recorded flow) and :mod:`.export` (runs out
of the store: CSV, pandas, the runs' trajectories, TensorBoard) and :mod:`.tracking` (runs into MLflow); the user's data as tensors: :mod:`wgflow.objectives.data`.
"""

from ..objectives.data import as_tensors, load_xy
from .export import load_runs, load_trajectory, run_records, to_tensorboard, write_runs_csv
from .modules import ModuleMeasure, from_module, layers_theta, to_module, two_layers
from .observe import Observer, watch
from .pictures import plot_flow, plot_particles
from .tracking import to_mlflow

__all__ = [
    "from_module",
    "to_module",
    "two_layers",
    "layers_theta",
    "ModuleMeasure",
    "watch",
    "Observer",
    "plot_flow",
    "plot_particles",
    "load_xy",
    "as_tensors",
    "load_runs",
    "load_trajectory",
    "run_records",
    "write_runs_csv",
    "to_tensorboard",
    "to_mlflow",
]
