"""Reproduced results of the sources, one module per experiment.

Every module in this package is imported by :func:`load_builtin` (which the registry calls on
first use: ``list_experiments``, ``get_experiment``), so defining an experiment with
``@register`` in a new module is enough to make it appear in ``wgflow list``. Importing the
package itself stays light (no torch), so the console script starts fast.
"""

import importlib
import pkgutil

from .base import (
    Claim,
    ConfigError,
    DirectoryContext,
    DivergenceError,
    Experiment,
    ExperimentResult,
    RunContext,
    claim_between,
    claim_close,
    claim_ge,
    claim_le,
    claim_true,
    config_to_dict,
    get_experiment,
    list_experiments,
    make_config,
    register,
    run_experiment,
)


def builtin_modules() -> list[str]:
    """Names of the experiment modules of this package (files not starting with "_", but base and config)."""
    return [
        m.name
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in ("base", "config", "runner")
    ]


def load_builtin() -> None:
    """Import every experiment module of this package (each registers its experiments)."""
    for name in builtin_modules():
        importlib.import_module(f"{__name__}.{name}")
