r"""my-data-flow: a mean-field ReLU network trained on a data set, measured in Wasserstein space.

An experiment defined outside wgflow (see docs/your_own.md). It fits
f_mu(x) = (1/n) sum_i c_i relu(w_i . x + b_i) to (x, y) by gradient descent in mean-field time on the
empirical square loss, and checks two things: the loss falls by ``loss_drop`` orders of magnitude,
and the measure's distance from its start W2(mu_T, mu_0) (exact optimal transport) stays below the
tracked-particle bound sqrt(mean_i |theta_i(T) - theta_i(0)|^2). The data come from a .csv / .npz
file (``--set data=points.csv``) or, by default, from a random ReLU teacher.

    wgflow run docs/examples/my_experiment.py --set n=64
    wgflow run docs/examples/my_experiment.py --set data=points.csv
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import wgflow as wg
from wgflow.experiments import ConfigError, Experiment, ExperimentResult, claim_ge, claim_true, register
from wgflow.plotting.verdicts import Caption


@dataclass(frozen=True)
class MyConfig:
    """Defaults are the ``quick`` preset (about a second on one core)."""

    data: str = ""  # a .csv (y in the last column) or .npz (arrays x, y) file; "" = a random ReLU teacher
    d: int = 3  # input dimension of the generated data (ignored with a data file)
    n_samples: int = 200  # generated samples
    n: int = 32  # hidden units = particles
    eta: float = 1.0  # step size in mean-field time
    steps: int = 800  # gradient steps
    loss_drop: float = 1.0  # claim: log10(loss_0 / loss_T) >= this

    def validate(self) -> None:
        if self.data:
            wg.interop.load_xy(self.data)  # a bad file is a one-line ConfigError before anything is written
        for key in ("d", "n_samples", "n", "steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key {key!r}: must be a positive integer, got {getattr(self, key)}")
        if not self.eta > 0:
            raise ConfigError(f"config key 'eta': must be > 0, got {self.eta}")


@register
class MyDataFlow(Experiment):
    name = "my-data-flow"
    title = "A mean-field ReLU network fits a data set"
    reference = "docs/your_own.md (an example of an experiment of your own)"
    description = __doc__
    Config = MyConfig
    presets = {"quick": {}, "full": {"n": 512, "steps": 5000}}
    # the report's figure captions; a figure bound to claims states their verdicts in its title
    captions = {"my_flow": Caption("The loss falls and the units travel from their start.", claims=("loss_drop",))}

    def run(self, cfg: MyConfig, ctx) -> ExperimentResult:
        g = torch.Generator().manual_seed(ctx.seed)
        if cfg.data:
            x, y = wg.interop.load_xy(cfg.data)  # (N, d), (N,)
        else:
            teacher = wg.tasks.ReLUTeacher.random(cfg.d, 3, generator=g, dtype=torch.float64)
            x = torch.randn(cfg.n_samples, cfg.d, generator=g, dtype=torch.float64)
            y = teacher(x)
        unit = wg.ReLU(x.shape[1], bias=True)  # theta = (c, w, b): 2-homogeneous with the bias inside w
        mu0 = wg.ParticleMeasure(unit.init(cfg.n, generator=g, dtype=torch.float64, kind="sphere"), unit)
        flow = wg.FlowConfig(eta=cfg.eta, steps=cfg.steps, n_snapshots=12, risk_every=10)
        traj = wg.train(
            mu0, wg.DatasetRisk(x, y), flow, seed=ctx.seed, progress=ctx.progress, checkpointer=ctx.checkpointer("flow")
        )
        w2 = wg.transport.w2_from_start(traj, method="exact")  # (S,)
        bound = float(wg.transport.tracked_w2(traj.snapshots[-1], traj.snapshots[0]))
        drop = float(np.log10(traj.risk[0] / traj.risk[-1]))
        for k, r in zip(traj.risk_steps, traj.risk):
            ctx.log_metric("loss", float(r), step=int(k))
        claims = [
            claim_ge(
                "loss_drop", "gradient flow lowers the empirical loss: log10(loss_0 / loss_T)", drop, cfg.loss_drop
            ),
            claim_true(
                "tracked_bound",
                "W2(mu_T, mu_0) <= the tracked-particle bound",
                bound - w2[-1],
                w2[-1] <= bound * (1 + 1e-9),
                expected="bound - W2 >= 0",
            ),
        ]
        artifacts = {
            "particles": ctx.save_figure("my_particles", wg.interop.plot_particles(traj)),
            "flow": ctx.save_figure("my_flow", wg.interop.plot_flow(traj, w2)),
        }
        metrics = {
            "loss_initial": float(traj.risk[0]),
            "loss_final": float(traj.risk[-1]),
            "w2_from_start": float(w2[-1]),
            "tracked_bound": bound,
        }
        return ExperimentResult(claims, metrics, artifacts)
