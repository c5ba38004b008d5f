"""Reproduced results of the sources, one package per experiment.

Each package holds its config, its ``run`` (a sequence of library calls), its claims and its
figures, and is declared in wgflow's pyproject.toml as an entry point of the group
``wgflow.experiments`` — the way every experiment, built-in or your own, reaches the registry
(:mod:`wgflow.harness.plugins`). The names below are the harness's public API
(:mod:`wgflow.harness`), re-exported for experiments and scripts; importing this package does not
import torch, so the console script starts fast.
"""

from ..harness import (
    Bool,
    Choice,
    Claim,
    ConfigError,
    DirectoryContext,
    DivergenceError,
    Domain,
    Experiment,
    ExperimentResult,
    Float,
    Floats,
    Int,
    Ints,
    RunContext,
    Text,
    claim_between,
    claim_ci_above,
    claim_ci_below,
    claim_ci_contains,
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
    "Claim",
    "claim_between",
    "claim_ci_above",
    "claim_ci_below",
    "claim_ci_contains",
    "claim_close",
    "claim_ge",
    "claim_le",
    "claim_true",
    "Domain",
    "Int",
    "Float",
    "Bool",
    "Choice",
    "Text",
    "Ints",
    "Floats",
]
