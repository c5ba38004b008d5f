"""The top-level API: a small pinned ``__all__``; former top-level names resolve with a DeprecationWarning."""

import importlib
import warnings

import pytest

import wgflow

PUBLIC = [
    "__version__",
    "ConfigError",
    "DivergenceError",
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
    "wasserstein",
    "run_experiment",
    "transport",
    "residual",
    "tasks",
    "limits",
    "experiments",
]


def test_all_is_the_pinned_small_set():
    assert wgflow.__all__ == PUBLIC
    assert len(wgflow.__all__) <= 20


def test_dir_lists_only_the_public_set():
    assert dir(wgflow) == sorted(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_resolve_without_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert getattr(wgflow, name) is not None


def test_namespaces_are_the_submodules():
    for ns in ("transport", "residual", "tasks", "limits", "experiments", "observe", "interop", "units"):
        assert getattr(wgflow, ns) is importlib.import_module(f"wgflow.{ns}")
    assert wgflow.transport.w2_from_start is importlib.import_module("wgflow.transport").w2_from_start


@pytest.mark.parametrize("name", sorted(wgflow._MOVED))
def test_moved_names_warn_and_name_their_namespace(name):
    where = f"wgflow.{wgflow._MOVED[name]}"
    try:
        expected = getattr(importlib.import_module(where), name)
    except ImportError:  # load_runs needs the optional pandas only when called; its module imports without it
        pytest.skip(f"{where} needs an optional dependency")
    with pytest.warns(DeprecationWarning, match=rf"use {where}\.{name}\b"):
        value = getattr(wgflow, name)
    assert value is expected
    assert name not in wgflow.__all__ and name not in dir(wgflow)


def test_moved_names_are_not_cached_so_every_use_warns():
    name = "w2_from_start"
    with pytest.warns(DeprecationWarning):
        getattr(wgflow, name)
    with pytest.warns(DeprecationWarning):  # the second use warns too
        getattr(wgflow, name)


def test_unknown_name_is_an_attribute_error():
    missing = "no_such_name"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        getattr(wgflow, missing)
    assert not hasattr(wgflow, "w2")
