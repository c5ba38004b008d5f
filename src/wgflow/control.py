"""The negative control: run any pipeline with training switched off.

A claim is evidence only if it can fail. Under :func:`untrained` every training
primitive of wgflow (:func:`wgflow.train`, the sharded flow, :func:`wgflow.residual.train_residual`)
takes **no gradient step** while keeping everything else of the pipeline: the
initialisation, the data, the recorded times and steps, and every evaluation. A flow
run under it records its initial state at each requested step (the particles stay
where they were drawn), so downstream fits and scores still have the shapes they expect.

``wgflow run NAME --untrained`` and ``run_experiment(..., untrained=True)`` use it; a
claim that passes there holds by construction and is a metric, not a claim.

The switch is a :mod:`contextvars` variable: it follows the thread or task that set it
and nothing else, so a library user's own code is never affected.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["untrained", "training_disabled"]

_DISABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("wgflow_training_disabled", default=False)


@contextlib.contextmanager
def untrained(active: bool = True) -> Iterator[None]:
    """Within the block, wgflow's training primitives take no gradient step (``active=False``: no-op)."""
    token = _DISABLED.set(bool(active) or _DISABLED.get())
    try:
        yield
    finally:
        _DISABLED.reset(token)


def training_disabled() -> bool:
    """True inside :func:`untrained`."""
    return _DISABLED.get()
