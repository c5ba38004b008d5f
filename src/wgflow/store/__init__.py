"""The run store: an embedded SQLite database plus array files beside it.

* :class:`Store` — runs, metric time series, claims, artifacts and what the report says about each
  experiment (WAL, versioned schema).
* :mod:`wgflow.store.provenance` — a run enters the store with its provenance (package versions, git
  revision, host) by :func:`~wgflow.store.provenance.start_run` (not imported here: the console
  script's start-up does not pay for :mod:`importlib.metadata`).
* :class:`StoreError` — any SQLite failure, explained in one line; :meth:`Store.check` audits a store.
* :func:`default_store_path` — ``$WGFLOW_STORE`` or ``./wgflow-runs``.
* :func:`atomic_save_array`, :func:`load_array` — ``.npy`` / ``.npz`` without pickle.
"""

from .._io import atomic_save_array, atomic_write_bytes, load_array
from .health import StoreError, is_wgflow_process
from .sqlite import RUN_STATUSES, SCHEMA_VERSION, Store, default_store_path, new_run_id

__all__ = [
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "atomic_save_array",
    "atomic_write_bytes",
    "default_store_path",
    "is_wgflow_process",
    "load_array",
    "new_run_id",
]
