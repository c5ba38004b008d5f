"""The experiment harness: the contract an experiment fulfils and the machinery that runs it.

* :mod:`.contract`: :class:`Experiment`, :class:`ExperimentResult`, :func:`register`;
* :mod:`.claims`: :class:`Claim`, its :class:`Null` and the ``claim_*`` constructors;
* :mod:`.registration`: each experiment's pre-registered claims (``registration.toml``);
* :mod:`.configs`: :func:`make_config` (values parsed by the :mod:`wgflow.domains` of the fields);
* :mod:`.plugins` and :mod:`.registry`: where experiments come from (the entry point group
  ``wgflow.experiments``, files) and :func:`get_experiment` / :func:`list_experiments`;
* :mod:`.context`, :mod:`.run`: :class:`RunContext`, :class:`DirectoryContext`, :func:`run_experiment`;
* :mod:`.store_context`, :mod:`.runner`: runs recorded in the store (``wgflow run``);
* :mod:`.catalog`: names and titles for ``wgflow list`` without importing the experiments.

The experiments themselves live in :mod:`wgflow.experiments`, which re-exports this public API.
Importing this package does not import torch.
"""

from ..domains import Bool, Choice, Domain, Float, Floats, Int, Ints, Text
from ..errors import ConfigError, DivergenceError
from .claims import (
    Claim,
    Null,
    claim_between,
    claim_ci_above,
    claim_ci_below,
    claim_ci_contains,
    claim_ci_within,
    claim_close,
    claim_ge,
    claim_le,
    claim_true,
)
from .configs import config_to_dict, make_config
from .context import DirectoryContext, RunContext
from .contract import Experiment, ExperimentResult, register
from .registry import get_experiment, list_experiments
from .run import run_and_judge, run_experiment

__all__ = [
    "ConfigError",
    "DivergenceError",
    "Experiment",
    "ExperimentResult",
    "RunContext",
    "DirectoryContext",
    "register",
    "get_experiment",
    "list_experiments",
    "make_config",
    "config_to_dict",
    "run_experiment",
    "run_and_judge",
    # the claims are part of the contract
    "Claim",
    "Null",
    "claim_between",
    "claim_ci_above",
    "claim_ci_below",
    "claim_ci_contains",
    "claim_ci_within",
    "claim_close",
    "claim_ge",
    "claim_le",
    "claim_true",
    # the domains of config fields
    "Domain",
    "Int",
    "Float",
    "Bool",
    "Choice",
    "Text",
    "Ints",
    "Floats",
]
