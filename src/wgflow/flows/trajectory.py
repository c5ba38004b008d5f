"""Recorded trajectories of particle flows, saved and loaded without pickle.

A :class:`Trajectory` holds particle snapshots at chosen steps (log-spaced by
default), the evaluation-risk curve, the output f on probe points, and the final
measure. ``save`` writes one ``.npz`` whose metadata (unit spec, flow config) is
a JSON string stored as a NumPy unicode scalar, so ``load`` needs
``allow_pickle=False`` only.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._io import atomic_save_array
from ..measures.measure import ParticleMeasure
from ..measures.units import make_unit
from . import labelled

__all__ = ["Trajectory"]


@dataclass(repr=False)
class Trajectory:
    """Result of :func:`wgflow.train`.

    Attributes (numpy arrays)
    -------------------------
    snapshots : (S, n, p) particle positions at ``snapshot_steps`` (S,), mean-field times ``snapshot_times``.
    risk : (T,) evaluation risk at ``risk_steps`` / ``risk_times``.
    train_loss : (T,) objective value J of the step's (mini)batch at ``risk_steps``.
    probe_f : (S, P) network output on probe points at snapshot steps (empty if no probe).
    final : the :class:`ParticleMeasure` at the end of the run.
    meta : JSON-ready dict (unit spec, alpha, flow config).
    """

    snapshots: np.ndarray
    snapshot_steps: np.ndarray
    snapshot_times: np.ndarray
    risk: np.ndarray
    risk_steps: np.ndarray
    risk_times: np.ndarray
    train_loss: np.ndarray
    probe_f: np.ndarray
    final: ParticleMeasure
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.snapshots.shape[1]

    def measure_at(self, k: int) -> ParticleMeasure:
        """Snapshot k as a ParticleMeasure (float64)."""
        return ParticleMeasure(
            torch.from_numpy(np.ascontiguousarray(self.snapshots[k])), self.final.unit, self.final.weights
        )

    _ARRAYS = (
        "snapshots",
        "snapshot_steps",
        "snapshot_times",
        "risk",
        "risk_steps",
        "risk_times",
        "train_loss",
        "probe_f",
    )

    def save(self, path: str | os.PathLike) -> str:
        """Write ``path`` (suffix forced to .npz) atomically; returns the path."""
        meta = {**self.meta, "unit": self.final.unit.spec()}
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        arrays["final_theta"] = self.final.numpy()
        if self.final.weights is not None:
            arrays["final_weights"] = self.final.weights.detach().cpu().numpy()
        arrays["meta_json"] = np.array(json.dumps(meta))
        return str(atomic_save_array(path, arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trajectory:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta_json"]))
            unit = make_unit(meta["unit"])
            w = torch.from_numpy(z["final_weights"]) if "final_weights" in z.files else None
            final = ParticleMeasure(torch.from_numpy(z["final_theta"]), unit, w)
            return cls(**{k: z[k] for k in cls._ARRAYS}, final=final, meta=meta)

    def __repr__(self) -> str:
        """One line: unit, sizes, the steps and mean-field times recorded, the risk's first and last values."""
        S, n, p = self.snapshots.shape
        return (
            f"Trajectory({self.final.unit!r}, n={n}, p={p}, {S} snapshots at steps {_span(self.snapshot_steps, '')} "
            f"(t {_span(self.snapshot_times, '.3g')}), risk at {len(self.risk)} steps: {_span(self.risk, '.3g', ' → ')})"
        )

    def _repr_html_(self) -> str:
        """Notebook summary: the repr's fields as a table."""
        S, n, p = self.snapshots.shape
        rows = {
            "unit": html.escape(repr(self.final.unit)),
            "particles": f"n = {n}, p = {p}",
            "snapshots": f"{S}, steps {_span(self.snapshot_steps, '')}, t = {_span(self.snapshot_times, '.3g')}",
            "risk": f"{len(self.risk)} values, {_span(self.risk, '.3g', ' → ')}",
            "probe": f"{self.probe_f.shape[-1]} points" if self.probe_f.size else "none",
            "final measure": html.escape(repr(self.final)),
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows.items()
        )
        return f"<b>Trajectory</b><table>{body}</table>"

    def to_xarray(self):
        """An ``xarray.Dataset`` with dims (snapshot, particle, coordinate), step and mean-field time per snapshot,
        the risk series on its own ``risk_step`` dim, the final measure, and the unit and metadata as attrs
        (layout: :mod:`wgflow.flows.labelled`). Needs the ``xarray`` extra."""
        return labelled.to_xarray(self)

    @classmethod
    def from_xarray(cls, ds) -> Trajectory:
        """The trajectory a dataset of :meth:`to_xarray` holds: ``Trajectory.from_xarray(t.to_xarray())`` equals ``t``
        (arrays, dtypes, unit, weights, metadata; tensors on the CPU)."""
        return cls(**labelled.fields_from_xarray(ds))

    def to_dataframe(self, what: str = "particles"):
        """A long ``pandas.DataFrame``: one row per snapshot x particle x coordinate (``what="particles"``), or one
        per risk evaluation (``what="risk"``); see :func:`wgflow.flows.labelled.to_dataframe`. Needs the ``pandas`` extra."""
        return labelled.to_dataframe(self, what)


def _span(a: np.ndarray, fmt: str, sep: str = "–") -> str:
    """First and last value of a recorded series, formatted (``"none"`` when nothing was recorded)."""
    return f"{a[0]:{fmt}}{sep}{a[-1]:{fmt}}" if len(a) else "none"
