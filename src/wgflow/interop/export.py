"""Results out of the store, into a researcher's tools: CSV / JSON rows, pandas, TensorBoard.

* :func:`run_records` — one flat dict per run: the run's fields, ``config.<key>`` for its config,
  ``metric.<name>`` for its summary metrics and ``claim.<name>`` (True/False) for its claims.
  ``wgflow runs --format csv`` writes these rows (:func:`write_runs_csv`).
* :func:`load_runs` — the same as a ``pandas.DataFrame`` (``what="runs"``), or long tables of every
  claim (``what="claims"``) or every metric point, series included (``what="metrics"``). pandas is the
  optional extra ``wgflow[pandas]``.
* :func:`load_trajectory` — a :class:`~wgflow.flows.Trajectory` an experiment's run saved
  (``ctx.save_trajectory``: snapshots, risk curve, final measure; ``.to_xarray()`` and
  ``.to_dataframe()`` from there), by run id and name.
* :func:`to_tensorboard` — every run's metric series as TensorBoard scalars, its config and summary
  metrics as hparams, its PNG figures as images and its trajectories' particles as histograms, one
  sub-folder per run (needs the ``tensorboard`` package: extra ``wgflow[tensorboard]``).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from typing import IO, Any

from ..flows.trajectory import Trajectory
from ..store import Store

__all__ = ["RUN_FIELDS", "run_records", "write_runs_csv", "load_runs", "load_trajectory", "to_tensorboard"]

RUN_FIELDS = (
    "run_id",
    "experiment",
    "preset",
    "seed",
    "status",
    "message",
    "started_at",
    "ended_at",
    "duration_s",
    "attempts",
    "n_claims",
    "n_passed",
    "sweep_id",
    "host",
    "git_rev",
)


def _scalar(v: Any) -> Any:
    return v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v)


def run_records(store, experiment: str | None = None) -> list[dict[str, Any]]:
    """Flat rows, newest run first: run fields, then config.*, metric.* and claim.* columns."""
    with Store.using(store) as store:
        return _run_records(store, experiment)


def _run_records(store: Store, experiment: str | None) -> list[dict[str, Any]]:
    rows = []
    for r in store.runs(experiment):
        row = {k: r.get(k) for k in RUN_FIELDS}
        row.update({f"config.{k}": _scalar(v) for k, v in r["config"].items()})
        row.update({f"metric.{k}": v for k, v in store.summary_metrics(r["run_id"]).items()})
        row.update({f"claim.{c['name']}": c["passed"] for c in store.claims(r["run_id"])})
        rows.append(row)
    return rows


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    cols = list(RUN_FIELDS)
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def write_runs_csv(store, out: IO[str], experiment: str | None = None) -> int:
    """Write :func:`run_records` as CSV (floats in full precision, empty cells for missing); returns rows."""
    rows = run_records(store, experiment)
    w = csv.DictWriter(out, fieldnames=_columns(rows), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return len(rows)


def load_runs(store=None, what: str = "runs", experiment: str | None = None):
    """A ``pandas.DataFrame`` of the store's runs (wide), claims or metrics (long).

    what="runs": one row per run (see :func:`run_records`); "claims": run_id, experiment, name,
    statement, expected, measured, tolerance, passed; "metrics": run_id, experiment, name, step
    (NaN for a summary scalar), value.
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("wg.interop.load_runs needs pandas: pip install 'wgflow[pandas]'") from None
    if what not in ("runs", "claims", "metrics"):
        raise ValueError(f"what must be 'runs', 'claims' or 'metrics', got {what!r}")
    with Store.using(store) as store:
        if what == "runs":
            rows = _run_records(store, experiment)
            return pd.DataFrame(rows, columns=_columns(rows))
        out = []
        for r in store.runs(experiment):
            items = store.claims(r["run_id"]) if what == "claims" else store.metrics(r["run_id"])
            out += [{"run_id": r["run_id"], "experiment": r["experiment"], **item} for item in items]
    cols = (
        ["run_id", "experiment", "name", "statement", "expected", "measured", "tolerance", "passed"]
        if what == "claims"
        else ["run_id", "experiment", "name", "step", "value"]
    )
    return pd.DataFrame(out, columns=cols)


def load_trajectory(store, run_id: str, name: str | None = None):
    """The :class:`~wgflow.flows.Trajectory` named ``name`` that run ``run_id`` saved (an experiment's
    ``ctx.save_trajectory``); ``name`` may be left out when the run saved exactly one.

    ``store`` is a :class:`~wgflow.store.Store` or its folder. A run, or a name, that is not stored
    raises :class:`KeyError` naming the run's trajectories.
    """
    with Store.using(store) as st:
        st.get_run(run_id)  # KeyError naming the store when the run is not there
        found = {a["name"]: a["path"] for a in st.artifacts(run_id, kind="trajectory")}
    if name is None and len(found) == 1:
        name = next(iter(found))
    if name not in found:
        have = ", ".join(sorted(found)) or "none"
        raise KeyError(f"run {run_id} saved no trajectory {name!r} (its trajectories: {have})")
    return Trajectory.load(found[name])


def _tensorboard_run(w, store: Store, run: dict[str, Any]) -> None:
    """One run into the open SummaryWriter ``w``: scalars, hparams, PNG figures, particle histograms."""
    summary = {}
    for m in store.metrics(run["run_id"]):
        if m["value"] is None:
            continue
        tag = m["name"] if m["step"] is not None else f"summary/{m['name']}"
        w.add_scalar(tag, m["value"], 0 if m["step"] is None else m["step"])
        if m["step"] is None:
            summary[f"summary/{m['name']}"] = m["value"]
    hparams = {k: v for k, v in (run.get("config") or {}).items() if isinstance(v, (bool, int, float, str))}
    hparams |= {"preset": str(run.get("preset")), "seed": int(run.get("seed") or 0)}
    w.add_hparams(hparams, summary, run_name=".")  # in the run's own folder, beside its scalars
    for a in store.artifacts(run["run_id"], kind="figure"):
        if a["path"].endswith(".png") and os.path.isfile(a["path"]):
            from matplotlib.image import imread

            w.add_image(f"figures/{a['name']}", imread(a["path"])[..., :3], 0, dataformats="HWC")
    for a in store.artifacts(run["run_id"], kind="trajectory"):
        traj = load_trajectory(store, run["run_id"], a["name"])
        for k, step in enumerate(traj.snapshot_steps):
            for j in range(traj.snapshots.shape[-1]):
                w.add_histogram(f"{a['name']}/theta_{j}", traj.snapshots[k, :, j], int(step))


def to_tensorboard(store, log_dir: str | os.PathLike, experiment: str | None = None) -> list[str]:
    """Write each run under ``log_dir/<experiment>/<run_id>``: its metric series (``<name>`` at its steps)
    and summary metrics (``summary/<name>``) as scalars, its config (numbers and strings), preset and seed
    as hparams with the summary metrics as their metrics (TensorBoard's HPARAMS tab compares runs), its
    PNG figures as images (``figures/<name>``) and, for each trajectory it saved, the particles'
    coordinates at every snapshot as histograms (``<trajectory>/theta_<j>``, at the snapshot's step);
    returns the run folders."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError(
            "TensorBoard export needs the tensorboard package: pip install 'wgflow[tensorboard]'"
        ) from None
    dirs = []
    with Store.using(store) as st:
        for r in st.runs(experiment):
            path = os.path.join(str(log_dir), r["experiment"], r["run_id"])
            with SummaryWriter(log_dir=path) as w:
                _tensorboard_run(w, st, r)
            dirs.append(path)
    return dirs
