"""Runs out of the store into an MLflow tracking server: :func:`to_mlflow`.

MLflow is the optional extra ``wgflow[mlflow]`` (the ``mlflow-skinny`` client suffices); it is imported
when :func:`to_mlflow` is called, never by ``import wgflow``.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from ..store import Store

__all__ = ["to_mlflow"]

_TAG = "wgflow.run_id"
_MAX_PARAM = 6000  # MLflow's limit on a parameter value's length


def _client(tracking_uri: str | os.PathLike | None):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ImportError("MLflow export needs the mlflow package: pip install 'wgflow[mlflow]'") from None
    if tracking_uri is not None and not re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", str(tracking_uri)):
        tracking_uri = "file://" + os.path.abspath(tracking_uri)  # a folder: MLflow's file store there
    return MlflowClient(tracking_uri=None if tracking_uri is None else str(tracking_uri))


def _experiment_id(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found is not None else client.create_experiment(name)


def _export_run(client, store: Store, run: dict[str, Any], experiment_id: str) -> str:
    """One wgflow run as one MLflow run: params, metrics (series at their steps), claims, files."""
    from mlflow.entities import Metric, Param

    rid = run["run_id"]
    tags = {_TAG: rid, "wgflow.experiment": run["experiment"], "wgflow.preset": str(run.get("preset"))}
    tags |= {"wgflow.status": str(run["status"]), "wgflow.git_rev": str(run.get("git_rev") or "")}
    ml = client.create_run(experiment_id, run_name=rid, tags=tags, start_time=int((run["started_at"] or 0) * 1000))
    now = int(time.time() * 1000)
    params = [Param("seed", str(run["seed"])), Param("preset", str(run.get("preset")))]
    for k, v in (run.get("config") or {}).items():
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        params.append(Param(f"config.{k}", text[:_MAX_PARAM]))
    metrics = [
        Metric(m["name"] if m["step"] is not None else f"summary.{m['name']}", m["value"], now, m["step"] or 0)
        for m in store.metrics(rid)
        if m["value"] is not None
    ]
    for c in store.claims(rid):
        metrics.append(Metric(f"claim.{c['name']}.passed", float(bool(c["passed"])), now, 0))
        if isinstance(c.get("measured"), (int, float)):
            metrics.append(Metric(f"claim.{c['name']}.measured", float(c["measured"]), now, 0))
    for i in range(0, max(len(params), len(metrics)), 100):  # MLflow takes at most 100 params per batch
        client.log_batch(ml.info.run_id, metrics=metrics[i : i + 100], params=params[i : i + 100])
    for a in store.artifacts(rid):
        if os.path.isfile(a["path"]):
            client.log_artifact(ml.info.run_id, a["path"], artifact_path=a["kind"])
    end = int((run.get("ended_at") or run["started_at"] or 0) * 1000)
    client.set_terminated(ml.info.run_id, "FINISHED" if run["status"] == "completed" else "FAILED", end_time=end)
    return ml.info.run_id


def to_mlflow(store, tracking_uri: str | os.PathLike | None = None, experiment: str | None = None) -> dict[str, str]:
    """Log each stored run as an MLflow run, under an MLflow experiment named after its wgflow experiment.

    An MLflow run gets the run's seed, preset and config (``config.<key>``, JSON for lists) as params;
    its metric series at their steps, its summary metrics (``summary.<name>``) and, per claim,
    ``claim.<name>.passed`` (1 or 0) and ``claim.<name>.measured`` as metrics; its figures, arrays and
    trajectories as artifacts (folders ``figure``, ``array``, ``trajectory``); tags ``wgflow.run_id``,
    ``wgflow.experiment``, ``wgflow.preset``, ``wgflow.status`` and ``wgflow.git_rev``.

    Parameters
    ----------
    store : a :class:`~wgflow.store.Store` or its folder.
    tracking_uri : where MLflow records (``http://host:5000``; ``sqlite:///mlflow.db`` with the full
        ``mlflow`` package; a folder for MLflow's file store, which MLflow 3 opens only with
        ``MLFLOW_ALLOW_FILE_STORE=true``); ``None``: MLflow's default (``$MLFLOW_TRACKING_URI``).
    experiment : only the runs of this wgflow experiment.

    Returns
    -------
    ``{wgflow run id: MLflow run id}``. A run exported before (found by its ``wgflow.run_id`` tag) is
    not exported again: its earlier MLflow run id is returned.
    """
    client = _client(tracking_uri)
    out: dict[str, str] = {}
    with Store.using(store) as st:
        for r in st.runs(experiment):
            exp_id = _experiment_id(client, r["experiment"])
            found = client.search_runs([exp_id], filter_string=f"tags.`{_TAG}` = '{r['run_id']}'", max_results=1)
            out[r["run_id"]] = found[0].info.run_id if found else _export_run(client, st, r, exp_id)
    return out
