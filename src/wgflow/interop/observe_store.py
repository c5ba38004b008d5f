"""A watched training run recorded in the run store, like a run of a built-in experiment.

The run (experiment name ``watch`` by default, preset ``watch``) holds the observer's settings and the
user's ``config`` as its config, the trajectory as ``trajectory.npz``, two figures (particles; loss and
W2 from the start; in the shared style of :mod:`wgflow.plotting.figures`, format and dpi from ``$WGFLOW_FIGURE_FORMAT``
and ``$WGFLOW_FIGURE_DPI``), the loss and W2 curves as metric series, and summary metrics (final loss, W2 from
the start, relative movement, linearisation gap when probe inputs were given, lazy/active verdict as
``lazy`` = 1 or 0). It has no claims: a user's run makes no prediction of a source.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..flows.regime import lazy_or_active, relative_movement
from ..plotting.figures import _plt, figure_settings, save
from ..store import Store
from ..store.provenance import start_run
from ..transport import w2_from_start
from .pictures import plot_flow, plot_particles

__all__ = ["save_observed"]


def save_observed(obs, store=None, *, name: str = "watch", seed: int = 0, config: dict | None = None) -> str:
    """Record the run watched by ``obs`` (an :class:`~wgflow.interop.observe.Observer`) in ``store``
    (a :class:`Store` or its path; default ``$WGFLOW_STORE`` or ./wgflow-runs); returns the run id."""
    if not isinstance(store, Store):  # opened here, so closed here
        with Store.using(store) as opened:
            return save_observed(obs, opened, name=name, seed=seed, config=config)
    t0 = time.monotonic()
    traj = obs.trajectory()
    unit = traj.final.unit
    cfg = {
        "model": type(obs.model).__name__,
        "unit": unit.name,
        "n": traj.n,
        "d": unit.d,
        "alpha": obs.alpha,
        "every": obs.every,
        "snapshots": obs.schedule,
        "max_snapshots": obs.max_snapshots,
        "steps": obs.steps,
        **json.loads(json.dumps(config or {}, default=str)),
    }
    rid = start_run(store, name, cfg, seed, preset="watch")
    try:
        out = store.run_dir(rid)
        out.mkdir(parents=True, exist_ok=True)
        store.add_artifact(rid, "trajectory", traj.save(out / "trajectory.npz"), kind="array")
        w2 = w2_from_start(traj)  # (S,)
        move = relative_movement(traj)  # (S,)
        for fig_name, fig in (("particles", plot_particles(traj)), ("flow", plot_flow(traj, w2))):
            store.add_artifact(rid, fig_name, _save_figure(fig, out / f"{name}_{fig_name}"), kind="figure")
        series = [("loss", int(k), float(v)) for k, v in zip(traj.risk_steps, traj.risk)]
        series += [("w2_from_start", int(k), float(v)) for k, v in zip(traj.snapshot_steps, w2)]
        series += [("relative_movement", int(k), float(v)) for k, v in zip(traj.snapshot_steps, move)]
        store.log_metrics(rid, series)
        probe = None if obs.probe is None else np.asarray(obs.probe, dtype=float).reshape(len(obs.probe), -1)
        regime = lazy_or_active(traj, probe)
        summary = {
            "loss_final": float(traj.risk[-1]) if len(traj.risk) else float("nan"),
            "w2_from_start": float(w2[-1]),
            "relative_movement": float(move[-1]),
            "lazy": float(regime.label == "lazy"),
            "steps": float(obs.steps),
        }
        if regime.gap is not None:  # measured exactly when there is a probe
            summary["linearisation_gap"] = regime.gap
        store.complete_run(rid, [], [(k, None, v) for k, v in summary.items()], duration_s=time.monotonic() - t0)
    except BaseException as e:
        store.finish_run(rid, "failed", f"{type(e).__name__}: {e}", duration_s=time.monotonic() - t0)
        raise
    return rid


def _save_figure(fig, stem) -> str:
    """Save in the shared figure style (:func:`wgflow.plotting.figures.save`), format and dpi from the environment."""
    fmt, dpi = figure_settings()  # $WGFLOW_FIGURE_FORMAT / $WGFLOW_FIGURE_DPI, else png at the default dpi
    path = stem.with_name(f"{stem.name}.{fmt}")
    save(fig, path, dpi=dpi)
    _plt().close(fig)
    return str(path)
