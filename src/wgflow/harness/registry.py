"""The registry of experiments: every experiment of the entry points and files, looked up by name.

:func:`list_experiments` and :func:`get_experiment` load the experiments first
(:func:`wgflow.harness.plugins.load_experiments`); an experiment registered by a script's own
``@register`` is there as well.
"""

from __future__ import annotations

from ..errors import ConfigError
from .contract import Experiment, registered
from .plugins import load_experiments

__all__ = ["list_experiments", "get_experiment"]


def list_experiments() -> list[type[Experiment]]:
    """Every experiment, sorted by name."""
    load_experiments()
    found = registered()
    return [found[k] for k in sorted(found)]


def get_experiment(name: str) -> type[Experiment]:
    """The experiment called ``name``, or a one-line :class:`ConfigError` listing the names."""
    load_experiments()
    found = registered()
    try:
        return found[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(sorted(found))}") from None
