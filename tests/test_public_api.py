"""The top-level API: a small pinned ``__all__``; the packages one per concept, loaded on first use."""

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
    for ns in ("transport", "residual", "tasks", "limits", "experiments", "measures", "objectives", "flows", "interop"):
        assert getattr(wgflow, ns) is importlib.import_module(f"wgflow.{ns}")
    assert wgflow.transport.w2_from_start is importlib.import_module("wgflow.transport").w2_from_start


def test_the_top_level_holds_no_loose_modules():
    """Apart from the package's own files and the neutral helpers, every module lives in a package of its concept."""
    from pathlib import Path

    loose = {p.name for p in Path(wgflow.__file__).parent.glob("*.py")}
    assert loose <= {
        "__init__.py",
        "__main__.py",
        "_version.py",
        "_io.py",
        "errors.py",
        "stats.py",
        "control.py",
        "domains.py",
    }, loose


def test_unknown_name_is_an_attribute_error():
    missing = "no_such_name"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        getattr(wgflow, missing)
    assert not hasattr(wgflow, "w2")
