"""Particle flows in mean-field time: settings, the training loop, ensembles, placement.

``train`` is the one training verb: a :class:`~wgflow.measures.measure.ParticleMeasure` gives one flow,
an :class:`Ensemble` E independent flows in one batched computation (one
:class:`~wgflow.flows.trajectory.Trajectory` per member). Modules: :mod:`.config` (``FlowConfig``),
:mod:`.scheme` (the step and early stopping), :mod:`.train` (the loop), :mod:`.recorder` (recording, checkpoints),
:mod:`.ensemble` (batched measures and objectives), :mod:`.runtime` (device and threads),
:mod:`.trajectory` (recorded flows), :mod:`.regime` (lazy or active: diagnostics of a recorded flow).
"""

from ..control import untrained
from .config import FlowConfig, resolve_alpha, snapshot_schedule
from .ensemble import Ensemble, EnsembleRisk
from .recorder import Checkpointer
from .regime import Regime, lazy_or_active, linearisation_gap, relative_movement
from .runtime import use
from .scheme import StepScheme, StopRule
from .train import train
from .trajectory import Trajectory

__all__ = [
    "FlowConfig",
    "train",
    "Trajectory",
    "snapshot_schedule",
    "resolve_alpha",
    "Ensemble",
    "EnsembleRisk",
    "Checkpointer",
    "StepScheme",
    "StopRule",
    "use",
    "Regime",
    "lazy_or_active",
    "linearisation_gap",
    "relative_movement",
]
