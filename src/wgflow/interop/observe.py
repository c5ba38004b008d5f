r"""Watch a user's own training loop: the hidden units of a two-layer network as a recorded particle flow.

::

    obs = wg.interop.watch(model, every=10)  # model: nn.Linear(d, n) -> act -> nn.Linear(n, 1)
    for x, y in loader:
        loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
        obs.step(loss)                        # counts steps; looks at the model every 10th
    traj = obs.trajectory()                   # a wgflow.Trajectory: w2_from_start, figures, regime ...
    obs.save(store)                           # a run of the store, in `wgflow runs` and the report

The observer only reads: parameters are copied under ``torch.no_grad`` and it draws no random
numbers, so a run with the observer ends with bitwise the same weights as one without (tested).
Particles are theta_i = (c_i, w_i[, b_i]) with c_i = n a_i / alpha (:mod:`wgflow.interop`).

Memory is bounded: at most ``max_snapshots`` snapshots of (n, p) float64 are kept. They are taken at
log-spaced steps (``snapshots="log"``, about ``per_decade`` per decade of steps) or every ``every``
steps (``"fixed"``); when the cap is reached every other snapshot is dropped and the spacing doubles
(fixed) or squares its ratio (log), so any run length fits. The loss is kept at every observed step
(one float). Time in the trajectory is the optimiser step count.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..flows.trajectory import Trajectory
from ..measures.measure import ParticleMeasure
from ..objectives.data import as_tensors
from .modules import _unit, layers_theta, two_layers
from .observe_store import save_observed

__all__ = ["Observer", "watch"]


class Observer:
    """Records snapshots of a model's hidden units from the user's loop; see :func:`watch`."""

    def __init__(
        self,
        model: nn.Module,
        *,
        every: int = 10,
        snapshots: str = "log",
        max_snapshots: int = 64,
        per_decade: int = 8,
        probe: torch.Tensor | None = None,
        alpha: float = 1.0,
        hidden: str | None = None,
        output: str | None = None,
        activation=None,
        tensorboard=None,
    ):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if snapshots not in ("log", "fixed"):
            raise ValueError(f"snapshots must be 'log' or 'fixed', got {snapshots!r}")
        if not isinstance(max_snapshots, int) or max_snapshots < 4:
            raise ValueError(f"max_snapshots must be an integer >= 4, got {max_snapshots!r}")
        self.model, self.every, self.schedule, self.max_snapshots = model, every, snapshots, max_snapshots
        self.alpha, self.probe = float(alpha), probe
        self._fc1, self._fc2, self._act = two_layers(model, hidden, output, activation)
        self._ratio = 10 ** (1 / per_decade)  # log schedule: next snapshot at >= ratio * this step
        self._stride = every  # fixed schedule
        self._tb = _writer(tensorboard)
        self.steps = 0
        self._snaps: list[np.ndarray] = []
        self._snap_steps: list[int] = []
        self._bias: list[float] = []
        self._loss: list[float] = []
        self._loss_steps: list[int] = []
        self._next = 0
        self._started = time.time()
        self._take()

    # ------------------------------------------------------------------ recording
    def step(self, loss: Any = None) -> None:
        """Count one optimiser step; every ``every`` steps record ``loss`` and perhaps a snapshot."""
        self.steps += 1
        if self.steps % self.every:
            return
        value = float("nan") if loss is None else float(loss.detach() if torch.is_tensor(loss) else loss)
        self._loss.append(value)
        self._loss_steps.append(self.steps)
        if self._tb is not None:
            self._tb.add_scalar("wgflow/loss", value, self.steps)
        if self.steps >= self._next:
            self._take()

    def _take(self) -> None:
        theta, b = layers_theta(self._fc1, self._fc2, self._act, self.alpha)  # (n, p) float64, on the CPU
        self._snaps.append(theta.numpy())
        self._snap_steps.append(self.steps)
        self._bias.append(float("nan") if b is None else b)
        if self.schedule == "log":
            self._next = max(self.steps + self.every, math.ceil(self.steps * self._ratio))
        else:
            self._next = self.steps + self._stride
        if len(self._snaps) > self.max_snapshots:
            self._thin()

    def _thin(self) -> None:
        """Drop every other snapshot (the first stays) and widen the schedule to match."""
        self._snaps[:] = self._snaps[::2]
        self._snap_steps[:] = self._snap_steps[::2]
        self._bias[:] = self._bias[::2]
        self._ratio = self._ratio**2
        self._stride *= 2
        if self.schedule == "fixed":
            self._next = self._snap_steps[-1] + self._stride

    # ------------------------------------------------------------------ results
    def trajectory(self) -> Trajectory:
        """The recorded flow (the current state is added as the last snapshot)."""
        snaps, steps, bias = list(self._snaps), list(self._snap_steps), list(self._bias)
        if steps[-1] != self.steps:
            theta, b = layers_theta(self._fc1, self._fc2, self._act, self.alpha)
            snaps.append(theta.numpy())
            steps.append(self.steps)
            bias.append(float("nan") if b is None else b)
        S = np.stack(snaps)  # (S, n, p)
        unit = _unit(self._act, self._fc1.in_features, self._fc1.bias is not None)
        final = ParticleMeasure(torch.from_numpy(S[-1].copy()), unit)
        probe_f = np.zeros((len(S), 0))
        if self.probe is not None:
            x = torch.as_tensor(self.probe, dtype=torch.float64).reshape(len(self.probe), -1)
            probe_f = np.stack(
                [
                    ParticleMeasure(torch.from_numpy(s), unit).output(x, self.alpha).numpy()
                    + (0.0 if math.isnan(b) else b)
                    for s, b in zip(S, bias)
                ]
            )  # (S, P)
        steps_a = np.asarray(steps, dtype=np.int64)
        loss, loss_steps = np.asarray(self._loss, dtype=float), np.asarray(self._loss_steps, dtype=np.int64)
        meta = {
            "source": "wgflow.watch",
            "alpha": self.alpha,
            "every": self.every,
            "schedule": self.schedule,
            "time": "optimiser steps",
            "model": type(self.model).__name__,
            "output_bias": bias,
            "unit": unit.spec(),
        }
        return Trajectory(
            S, steps_a, steps_a.astype(float), loss, loss_steps, loss_steps.astype(float), loss, probe_f, final, meta
        )

    def save(self, store=None, *, name: str = "watch", seed: int = 0, config: dict | None = None) -> str:
        """Record the watched run in a store (default ``$WGFLOW_STORE`` or ./wgflow-runs); returns its id."""
        return save_observed(self, store, name=name, seed=seed, config=config)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _writer(tb):
    if tb is None or hasattr(tb, "add_scalar"):
        return tb
    from torch.utils.tensorboard import SummaryWriter  # needs the `tensorboard` package (extra "tensorboard")

    return SummaryWriter(log_dir=str(tb))


def watch(
    model: nn.Module,
    *,
    every: int = 10,
    snapshots: str = "log",
    max_snapshots: int = 64,
    per_decade: int = 8,
    probe=None,
    data=None,
    n_probe: int = 256,
    alpha: float = 1.0,
    hidden: str | None = None,
    output: str | None = None,
    activation=None,
    tensorboard=None,
) -> Observer:
    """Start watching ``model`` (a two-layer network, see :func:`wgflow.interop.two_layers`).

    Parameters
    ----------
    every : look at the model every ``every`` calls of :meth:`Observer.step` (loss, snapshot schedule).
    snapshots : "log" (log-spaced steps) or "fixed" (every ``every`` steps); at most ``max_snapshots``.
    probe : inputs (P, d) on which the trajectory records the network and the linearisation gap is
        measured; or ``data`` (tensor, Dataset or DataLoader), whose first ``n_probe`` samples are used
        (read by index: no shuffling, no random numbers).
    alpha : output scale of the particles, c_i = n a_i / alpha.
    tensorboard : a ``SummaryWriter`` or a log directory; the loss is written there every ``every`` steps.
    """
    if probe is None and data is not None:
        probe = as_tensors(data, limit=n_probe)[0] if not torch.is_tensor(data) else data[:n_probe]
    return Observer(
        model,
        every=every,
        snapshots=snapshots,
        max_snapshots=max_snapshots,
        per_decade=per_decade,
        probe=probe,
        alpha=alpha,
        hidden=hidden,
        output=output,
        activation=activation,
        tensorboard=tensorboard,
    )
