"""Reproduced results of the sources, one module per experiment.

Every module in this package is imported here, so defining an experiment with
``@register`` in a new module is enough to make it appear in ``wgflow list``.
"""

import importlib
import pkgutil

from .base import (  # noqa: F401
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

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_") and _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")
