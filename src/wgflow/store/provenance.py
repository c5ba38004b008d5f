"""Where a run's numbers come from: package versions, the source revision and the host, recorded with each run.

:func:`start_run` is the one way a run enters the store, whoever runs it (the experiment runner, a
sweep's driver, a watched training loop): it records what the report says about the experiment
(:meth:`~wgflow.store.sqlite.Store.describe_experiment`) and creates the run with the provenance of
this process (:func:`provenance`).
"""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .sqlite import Store

__all__ = ["package_versions", "git_revision", "torch_runtime", "provenance", "start_run"]

_PACKAGES = ("wgflow", "torch", "numpy", "scipy", "pot", "matplotlib", "scikit-learn", "torchdiffeq", "tqdm")


def package_versions() -> dict[str, str | None]:
    """Versions of wgflow, python and the numerical packages a result depends on (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> str | None:
    """``git rev-parse HEAD`` of the wgflow source tree, or None (not a checkout, no git)."""
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, timeout=5, capture_output=True, text=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def torch_runtime() -> dict[str, str | None]:
    """torch's intra-op threads, CUDA build and visible GPUs in this process; empty when torch is not
    imported (the store never imports it: a report or a listing stays light)."""
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "get_num_threads"):
        return {}
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {
        "torch.threads": str(torch.get_num_threads()),
        "torch.cuda": torch.version.cuda,
        "gpus": ", ".join(torch.cuda.get_device_name(i) for i in range(gpus)) or None,
    }


def provenance(runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """This process's provenance as keyword arguments of :meth:`Store.create_run`: versions (with
    torch's threads and CUDA, and ``runtime``: the device and threads a run asked for), git_rev, host."""
    versions: dict[str, Any] = {**package_versions(), **torch_runtime()}
    versions.update({k: None if v is None else str(v) for k, v in (runtime or {}).items()})
    return {"versions": versions, "git_rev": git_revision(), "host": socket.gethostname()}


def start_run(
    store: Store,
    experiment: str,
    config: Mapping[str, Any],
    seed: int,
    *,
    about: Mapping[str, Any] | None = None,
    origin: Mapping[str, Any] | None = None,
    **run: Any,
) -> str:
    """Create a run (status ``running``) of ``experiment`` with its provenance; returns its id.

    Parameters
    ----------
    about : what the report says about the experiment, the keyword arguments of
        :meth:`Store.describe_experiment` (title, description, reference, captions); None records nothing.
    origin : the provenance to record (default :func:`provenance`: a sweep computes it once for its points).
    run : the other keyword arguments of :meth:`Store.create_run` (preset, sweep_id, run_id, untrained).
    """
    if about is not None:
        store.describe_experiment(experiment, **about)
    return store.create_run(experiment, config, seed, **(provenance() if origin is None else origin), **run)
