"""Reproduced results of the sources, one package per experiment.

Each package holds its config, its ``run`` (a sequence of library calls), its claims and its
figures, and is declared in wgflow's pyproject.toml as an entry point of the group
``wgflow.experiments`` — the way every experiment, built-in or your own, reaches the registry
(:mod:`wgflow.harness.plugins`). The names below are the harness's public API
(:mod:`wgflow.harness`), re-exported for experiments and scripts; importing this package does not
import torch, so the console script starts fast.
"""

from .. import harness
from ..harness import *  # noqa: F403 - the harness's public API, re-exported

__all__ = list(harness.__all__)
