"""Particle flows in mean-field time: settings, the training loop, ensembles, placement.

``train`` is the one training verb: a :class:`~wgflow.measure.ParticleMeasure` gives one flow,
an :class:`Ensemble` E independent flows in one batched computation (one
:class:`~wgflow.trajectory.Trajectory` per member). Modules: :mod:`.config` (``FlowConfig``),
:mod:`.train` (step scheme and loop), :mod:`.recorder` (recording, checkpoints),
:mod:`.ensemble` (batched measures and objectives), :mod:`.runtime` (device and threads).
"""

from .config import FlowConfig, resolve_alpha, snapshot_schedule
from .ensemble import Ensemble, EnsembleRisk
from .recorder import Checkpointer
from .runtime import use
from .train import StepScheme, train

__all__ = [
    "FlowConfig",
    "train",
    "snapshot_schedule",
    "resolve_alpha",
    "Ensemble",
    "EnsembleRisk",
    "Checkpointer",
    "StepScheme",
    "use",
]
