"""What a flow records, and the checkpoint plumbing that saves and restores it.

The recorder stores snapshots of theta ((n, p), or (E, n, p) for an ensemble), the evaluation
risk and the training objective (floats, or (E,) arrays) at the requested steps. Its state
and the flow's (theta, step, time, generator states) form one dict of NumPy arrays: what a
:class:`Checkpointer` saves (no pickle) and what a resumed run continues from, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .._io import Checkpointer  # the one protocol, shared with the experiments' run contexts

__all__ = ["Checkpointer", "Recorder", "flow_state", "restore_flow_state"]


class Recorder:
    """Snapshots, probe outputs, evaluation risk and training objective of one flow or ensemble."""

    def __init__(self):
        self.snap, self.snap_steps, self.snap_times, self.probe = [], [], [], []
        self.risk, self.risk_steps, self.risk_times, self.train = [], [], [], []

    def add_snapshot(self, k: int, t: float, theta: torch.Tensor, probe_f: np.ndarray | None) -> None:
        self.snap.append(theta.detach().cpu().numpy().copy())
        self.snap_steps.append(k)
        self.snap_times.append(t)
        if probe_f is not None:
            self.probe.append(probe_f)

    def add_risk(self, k: int, t: float, risk, train) -> None:
        self.risk.append(risk)
        self.risk_steps.append(k)
        self.risk_times.append(t)
        self.train.append(train)

    def state(self) -> dict[str, np.ndarray]:
        shape = self.snap[0].shape if self.snap else (0, 0)
        return {
            "rec_snap": np.stack(self.snap) if self.snap else np.zeros((0, *shape)),
            "rec_snap_steps": np.asarray(self.snap_steps, dtype=np.int64),
            "rec_snap_times": np.asarray(self.snap_times, dtype=np.float64),
            "rec_probe": np.stack(self.probe) if self.probe else np.zeros((0, 0)),
            "rec_risk": np.asarray(self.risk, dtype=np.float64),
            "rec_risk_steps": np.asarray(self.risk_steps, dtype=np.int64),
            "rec_risk_times": np.asarray(self.risk_times, dtype=np.float64),
            "rec_train": np.asarray(self.train, dtype=np.float64),
        }

    def restore(self, s: Mapping[str, np.ndarray]) -> None:
        self.snap = list(s["rec_snap"])
        self.snap_steps = list(s["rec_snap_steps"])
        self.snap_times = list(s["rec_snap_times"])
        self.probe = list(s["rec_probe"]) if s["rec_probe"].size else []
        self.risk = list(s["rec_risk"])
        self.risk_steps = list(s["rec_risk_steps"])
        self.risk_times = list(s["rec_risk_times"])
        self.train = list(s["rec_train"])


def flow_state(
    theta: torch.Tensor, k: int, t: float, generators: Sequence[torch.Generator], last_J, rec: Recorder
) -> dict[str, np.ndarray]:
    """The dict a checkpointer saves: theta, step, time, generator states (one row per member), recorder."""
    return {
        "theta": theta.detach().cpu().numpy(),
        "step": np.array(k),
        "time": np.array(t),
        "generator": np.stack([g.get_state().cpu().numpy() for g in generators]),
        "last_J": np.asarray(last_J, dtype=np.float64),
        **rec.state(),
    }


def restore_flow_state(
    state: Mapping[str, np.ndarray], generators: Sequence[torch.Generator], dtype, device, rec: Recorder
) -> tuple[torch.Tensor, int, float]:
    """Put a saved state back: generators and recorder in place; returns (theta on ``device``, step, time)."""
    gs = np.array(state["generator"], dtype=np.uint8)
    gs = gs.reshape(len(generators), -1)  # one row per member (older single-flow files: one flat row)
    for g, row in zip(generators, gs):
        g.set_state(torch.from_numpy(row.copy()))
    rec.restore(state)
    theta = torch.from_numpy(np.array(state["theta"])).to(dtype=dtype, device=device)
    return theta, int(state["step"]), float(state["time"])
