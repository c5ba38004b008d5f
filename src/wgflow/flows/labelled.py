"""A recorded flow as labelled data: an ``xarray.Dataset`` and long ``pandas`` tables.

:meth:`Trajectory.to_xarray <wgflow.flows.trajectory.Trajectory.to_xarray>` lays a trajectory out as

====================  =================================  ==========================================
variable              dims                               content
====================  =================================  ==========================================
``theta``             (snapshot, particle, coordinate)   particle positions (column 0 = c)
``step``, ``time``    (snapshot,)                        coordinates: step and mean-field time t
``risk``              (risk_step,)                       evaluation risk; index ``risk_step``
``train_loss``        (risk_step,)                       objective J of the step's (mini)batch
``risk_time``         (risk_step,)                       coordinate: mean-field time of the risk
``probe_f``           (snapshot, probe)                  output f on the probe points (absent probe:
                                                         dims (probe_snapshot, probe), sizes 0)
``final_theta``       (particle, coordinate)             the final measure's positions
``final_weights``     (particle,)                        its weights, when not uniform
====================  =================================  ==========================================

with attrs ``unit`` (its repr), ``unit_spec`` and ``meta`` (JSON strings: the unit's spec and the
trajectory's metadata, which :func:`fields_from_xarray` reads back exactly). xarray and pandas are
optional dependencies (the ``xarray`` and ``pandas`` extras), imported by the functions that need them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from ..measures.measure import ParticleMeasure
from ..measures.units import make_unit

__all__ = ["to_xarray", "fields_from_xarray", "to_dataframe"]


def to_xarray(traj) -> Any:
    """The ``xarray.Dataset`` of a :class:`~wgflow.flows.trajectory.Trajectory` (layout in the module docstring)."""
    try:
        import xarray as xr  # optional dependency: the `xarray` extra
    except ImportError:
        raise ImportError("Trajectory.to_xarray needs xarray: pip install 'wgflow[xarray]'") from None
    S = traj.snapshots.shape[0]
    probe = np.asarray(traj.probe_f)
    probe_dims = ("snapshot", "probe") if probe.ndim == 2 and probe.shape[0] == S else ("probe_snapshot", "probe")
    data: dict[str, Any] = {
        "theta": (
            ("snapshot", "particle", "coordinate"),
            np.asarray(traj.snapshots),
            {"long_name": "particle positions theta (column 0: c)"},
        ),
        "risk": ("risk_step", np.asarray(traj.risk), {"long_name": "evaluation risk"}),
        "train_loss": (
            "risk_step",
            np.asarray(traj.train_loss),
            {"long_name": "objective J of the step's (mini)batch"},
        ),
        "probe_f": (probe_dims, probe, {"long_name": "network output f on the probe points"}),
        "final_theta": (("particle", "coordinate"), traj.final.numpy(), {"long_name": "final particle positions"}),
    }
    if traj.final.weights is not None:
        data["final_weights"] = (
            "particle",
            traj.final.weights.detach().cpu().numpy(),
            {"long_name": "final weights a_i"},
        )
    coords = {
        "step": ("snapshot", np.asarray(traj.snapshot_steps), {"long_name": "step of the snapshot"}),
        "time": ("snapshot", np.asarray(traj.snapshot_times), {"long_name": "mean-field time t = eta * step"}),
        "risk_step": ("risk_step", np.asarray(traj.risk_steps), {"long_name": "step of the risk evaluation"}),
        "risk_time": (
            "risk_step",
            np.asarray(traj.risk_times),
            {"long_name": "mean-field time of the risk evaluation"},
        ),
    }
    attrs = {
        "title": "wgflow trajectory: particle snapshots of a Wasserstein gradient flow",
        "unit": repr(traj.final.unit),
        "unit_spec": json.dumps(traj.final.unit.spec()),
        "meta": json.dumps(traj.meta),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def fields_from_xarray(ds) -> dict[str, Any]:
    """The fields of a ``Trajectory`` from a dataset of :func:`to_xarray` (arrays, dtypes and metadata as they were)."""
    unit = make_unit(json.loads(ds.attrs["unit_spec"]))
    weights = torch.from_numpy(ds["final_weights"].values.copy()) if "final_weights" in ds else None
    return {
        "snapshots": ds["theta"].values,
        "snapshot_steps": ds["step"].values,
        "snapshot_times": ds["time"].values,
        "risk": ds["risk"].values,
        "risk_steps": ds["risk_step"].values,
        "risk_times": ds["risk_time"].values,
        "train_loss": ds["train_loss"].values,
        "probe_f": ds["probe_f"].values,
        "final": ParticleMeasure(torch.from_numpy(ds["final_theta"].values.copy()), unit, weights),
        "meta": json.loads(ds.attrs["meta"]),
    }


def to_dataframe(traj, what: str = "particles") -> Any:
    """A long ``pandas.DataFrame`` of a trajectory.

    ``what="particles"``: one row per snapshot x particle x coordinate, columns
    (snapshot, step, time, particle, coordinate, theta), S * n * p rows.
    ``what="risk"``: one row per risk evaluation, columns (step, time, risk, train_loss).
    """
    try:
        import pandas as pd  # optional dependency: the `pandas` extra
    except ImportError:
        raise ImportError("Trajectory.to_dataframe needs pandas: pip install 'wgflow[pandas]'") from None
    if what == "risk":
        return pd.DataFrame(
            {"step": traj.risk_steps, "time": traj.risk_times, "risk": traj.risk, "train_loss": traj.train_loss}
        )
    if what != "particles":
        raise ValueError(f'what must be "particles" or "risk", got {what!r}')
    S, n, p = traj.snapshots.shape
    k, i, j = (a.ravel() for a in np.meshgrid(np.arange(S), np.arange(n), np.arange(p), indexing="ij"))  # (S*n*p,)
    return pd.DataFrame(
        {
            "snapshot": k,
            "step": np.asarray(traj.snapshot_steps)[k],
            "time": np.asarray(traj.snapshot_times)[k],
            "particle": i,
            "coordinate": j,
            "theta": np.asarray(traj.snapshots).reshape(-1),
        }
    )
