r"""cb-implicit-bias: training both layers finds an F1 max-margin classifier; the output layer alone an F2 one.

.. math::

    f(x) = \frac1m \sum_{j=1}^m c_j\, \mathrm{relu}(w_j \cdot x),\qquad
    \min\ \frac1n \sum_i e^{-y_i f(x_i)}\ \ (\text{or } \log(1 + e^{-y_i f(x_i)})),\qquad
    \eta_t = \eta / \sqrt{t + 1}

(Chizat & Bach, COLT 2020, Thm 3 and 5, §5). Gradient flow on both layers converges in direction to
a max-margin classifier for the variation norm F1, which adapts to the two informative coordinates;
training only the output layer gives the kernel (F2) max-margin classifier, whose margin degrades
with spurious dimensions. Data: the authors' clusters (:class:`~wgflow.tasks.clusters.ClustersTask`;
x = (1, x1, x2, spurious...), the constant 1 being the bias, so the units are ``ReLU(d)``).
Output-layer training is ``eta_inner = 0`` in the same flow, with the same data and the same initial
particles (sphere of radius ``init_scale``, both regimes).

Output-layer step. Training the output layer alone is a convex problem (a linear model on fixed
random ReLU features) whose kernel eigenvalues are small: at the common step ``eta`` it is nowhere
near its limit within the horizon (measured at the quick size, eta = 2, exponential loss: *training*
error 0.41 at d = 5, test error at chance 0.34-0.44 for every d). Its step is therefore multiplied by
``output_step`` (``eta_output`` of the flow); the logistic loss keeps that large step stable (the
exponential loss diverges from a x100 multiplier on). Measured at the quick preset, seed 0
(logistic, eta = 10, output_step = 1000, 2000 steps): output-layer training error 0.03 / 0.02 / 0.00
at d = 5 / 15 / 25 (it now separates the data), test error 0.096 / 0.312 / 0.400; both layers
0.026 / 0.057 / 0.217 -- claim (1) holds (also on seeds 1 and 2). Both-layer error still grows at
d = 25 within this horizon. The full preset uses the authors' eta = 0.5 with the same multiplier.

Claims: (1) from the smallest to the largest d (n fixed) the test error of both-layer training grows
less than that of output-layer training, and at the largest d it is lower; (2) the normalised
margin min_i y_i f(x_i) / ((1/m) sum_j |theta_j|^2) changes by less than ``margin_rtol`` between the
two largest widths; (3) test error decreases from the smallest to the largest n in both regimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..flows import FlowConfig, train
from ..linearized import symmetric_init
from ..margins import classification_error, f1_margin
from ..measure import ParticleMeasure
from ..objectives import DatasetRisk
from ..tasks.clusters import ClustersTask
from ..units import ReLU
from .base import ConfigError, Experiment, ExperimentResult, claim_le, claim_true, register
from .config import Bool, Choice, Domain, Float, Int, Ints


@dataclass(frozen=True)
class ImplicitBiasConfig:
    """Defaults are the ``quick`` preset (about a minute on one core)."""

    k: int = 3  # k x k clusters
    d_values: tuple = (5, 15, 25)  # input dimensions (d - 3 spurious coordinates), n = n_fixed
    n_fixed: int = 256  # training points in the sweep over d
    n_values: tuple = (64, 128, 256)  # training set sizes, at d = d_for_n
    d_for_n: int = 15  # dimension of the sweep over n
    m: int = 300  # width of the networks of the d and n sweeps
    m_values: tuple = (256, 1024, 4096)  # widths of the margin sweep (both layers, d = d_for_n, n = n_margin)
    n_margin: int = 64  # training points of the margin sweep (few enough to be separated within the horizon)
    loss: str = "logistic"  # "exponential" | "logistic" (logistic: stable under the large output-layer step)
    eta: float = 10.0  # step eta / sqrt(t + 1) in mean-field time
    output_step: float = 1000.0  # output-layer-only training: step multiplier (eta_output) of that convex problem
    steps: int = 2000  # gradient steps
    init_scale: float = 1.0  # particles uniform on the sphere of this radius in R^{d+1} (both signs of c)
    symmetric: bool = False  # pair each unit with its copy of opposite c: f = 0 at t = 0 (no O(m^-1/2) noise)
    n_test: int = 4000  # test points
    seeds: int = 1  # data and initialisation draws averaged per point of the curves
    margin_rtol: float = 0.05  # claim (2): relative change of the normalised margin between the largest widths

    def validate(self) -> None:
        if min(self.d_values) < 3 or self.d_for_n < 3:
            raise ConfigError("clusters need d >= 3 (bias, x1, x2)")
        if len(self.d_values) < 2 or len(self.n_values) < 2 or len(self.m_values) < 2:
            raise ConfigError("d_values, n_values and m_values need at least two entries each")
        if self.steps < 1 or self.seeds < 1 or not self.eta > 0 or not self.output_step > 0:
            raise ConfigError("steps, seeds, eta and output_step must be positive")

    domains: ClassVar[dict[str, Domain]] = {
        "k": Int(2), "d_values": Ints(3, min_len=2, increasing=True), "n_fixed": Int(2),
        "n_values": Ints(2, min_len=2, increasing=True), "d_for_n": Int(3), "m": Int(1),
        "m_values": Ints(1, min_len=2, increasing=True), "n_margin": Int(2), "loss": Choice("exponential", "logistic"),
        "eta": Float(0, open_lo=True), "output_step": Float(0, open_lo=True), "steps": Int(1),
        "init_scale": Float(0, open_lo=True), "symmetric": Bool(), "n_test": Int(1), "seeds": Int(1),
        "margin_rtol": Float(0, open_lo=True)}


@register
class ImplicitBias(Experiment):
    name = "cb-implicit-bias"
    title = "Implicit bias: F1 max-margin (both layers) vs kernel max-margin (output layer)"
    reference = "Chizat & Bach, COLT 2020, §5"
    description = __doc__
    Config = ImplicitBiasConfig
    presets = {"quick": {}, "full": {"d_values": (5, 10, 15, 20, 25), "n_fixed": 256,
                                     "n_values": (32, 64, 128, 256, 512), "m": 1000,
                                     "m_values": (8, 16, 32, 64, 128, 256, 512, 1024), "eta": 0.5,
                                     "steps": 50000, "seeds": 3}}

    def run(self, cfg: ImplicitBiasConfig, ctx) -> ExperimentResult:
        def one(d: int, n: int, m: int, layers: str, s: int) -> dict:
            g = torch.Generator().manual_seed(1000 * ctx.seed + s)
            task = ClustersTask.random(d, cfg.k, generator=g)
            x, y = task.sample(n, generator=g)  # (n, d), (n,)
            xt, yt = task.sample(cfg.n_test, generator=g)
            unit = ReLU(d)
            if cfg.symmetric:
                theta0 = symmetric_init(unit.init(m // 2, generator=g, dtype=torch.float64, kind="sphere",
                                                  c_scale=cfg.init_scale))  # (m, d)
            else:
                theta0 = unit.init(m, generator=g, dtype=torch.float64, kind="sphere", c_scale=cfg.init_scale)
            flow = FlowConfig(eta=cfg.eta, steps=cfg.steps, schedule="inv_sqrt", risk_every=cfg.steps,
                              eta_inner=1.0 if layers == "both" else 0.0,
                              eta_output=1.0 if layers == "both" else cfg.output_step, n_snapshots=2)
            mu = train(ParticleMeasure(theta0, unit), DatasetRisk(x, y, loss=cfg.loss), flow, seed=s,
                       progress=ctx.progress, checkpointer=ctx.checkpointer(f"{layers}-d{d}-n{n}-m{m}-s{s}")).final
            return {"test_error": classification_error(mu, xt, yt), "train_error": classification_error(mu, x, y),
                    "margin": f1_margin(mu, x, y), "theta": mu.numpy(), "x": x.numpy(), "y": y.numpy()}

        def get(d, n, m, layers, s):
            return ctx.stage(f"{layers}-d{d}-n{n}-m{m}-s{s}", lambda: one(d, n, m, layers, s))

        def mean(key, d, n, m, layers):
            return float(np.mean([get(d, n, m, layers, s)[key] for s in range(cfg.seeds)]))

        regimes = ("both", "output")
        err_d = {r: np.array([mean("test_error", d, cfg.n_fixed, cfg.m, r) for d in cfg.d_values]) for r in regimes}
        err_n = {r: np.array([mean("test_error", cfg.d_for_n, n, cfg.m, r) for n in cfg.n_values]) for r in regimes}
        marg = np.array([mean("margin", cfg.d_for_n, cfg.n_margin, m, "both") for m in cfg.m_values])
        for r in regimes:
            ctx.log(f"{r}: test error vs d {np.round(err_d[r], 3)}, vs n {np.round(err_n[r], 3)}")
        ctx.log(f"normalised margin vs m {marg}")

        grow = {r: float(err_d[r][-1] - err_d[r][0]) for r in regimes}
        rel = float(abs(marg[-1] - marg[-2]) / abs(marg[-1]))
        claims = [
            claim_true("dimension_robustness", f"from d = {cfg.d_values[0]} to d = {cfg.d_values[-1]} (n = {cfg.n_fixed}) "
                       "the test error of both-layer training grows less than that of output-layer training, and is "
                       "lower at the largest d: (growth both, growth output, error both, error output)",
                       f"{grow['both']:.3f}, {grow['output']:.3f}, {err_d['both'][-1]:.3f}, {err_d['output'][-1]:.3f}",
                       grow["both"] < grow["output"] and err_d["both"][-1] < err_d["output"][-1],
                       expected="growth both < growth output and error both < error output at max d"),
            claim_le("margin_stabilises", f"the normalised F1 margin stabilises as m grows: relative change between "
                     f"m = {cfg.m_values[-2]} and m = {cfg.m_values[-1]} (margin {marg[-1]:.4g})", rel, cfg.margin_rtol),
            claim_true("error_decreases_with_n", f"test error decreases from n = {cfg.n_values[0]} to "
                       f"n = {cfg.n_values[-1]} (d = {cfg.d_for_n}) in both regimes: (both, output) differences",
                       f"{err_n['both'][-1] - err_n['both'][0]:.3f}, {err_n['output'][-1] - err_n['output'][0]:.3f}",
                       bool(err_n["both"][-1] < err_n["both"][0] and err_n["output"][-1] < err_n["output"][0]),
                       expected="both < 0"),
        ]
        metrics = {f"test_error_{r}_d{d}": float(e) for r in regimes for d, e in zip(cfg.d_values, err_d[r])}
        metrics.update({f"test_error_{r}_n{n}": float(e) for r in regimes for n, e in zip(cfg.n_values, err_n[r])})
        metrics.update({f"margin_m{m}": float(v) for m, v in zip(cfg.m_values, marg)})
        metrics["margin_rel_change"] = rel
        artifacts = {"curves": self._curves(ctx, cfg, err_d, err_n, marg),
                     "decision_regions": self._regions(ctx, cfg, get)}
        return ExperimentResult(claims, metrics, artifacts)

    @staticmethod
    def _curves(ctx, cfg, err_d, err_n, marg) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
        for r, lab in (("both", "both layers (F1)"), ("output", "output layer (F2)")):
            ax[0].plot(cfg.d_values, err_d[r], "o-", label=lab)
            ax[1].plot(cfg.n_values, err_n[r], "o-", label=lab)
        ax[0].set(xlabel="d", ylabel="test error", title=f"n = {cfg.n_fixed}")
        ax[1].set(xlabel="n", ylabel="test error", xscale="log", title=f"d = {cfg.d_for_n}")
        ax[2].plot(cfg.m_values, marg, "o-")
        ax[2].set(xlabel="m", xscale="log", ylabel="min_i y_i f(x_i) / (1/m) sum |theta_j|^2",
                  title=f"normalised margin (both layers, n = {cfg.n_margin})")
        for a in ax[:2]:
            a.legend(fontsize=8)
        return ctx.save_figure("cb_implicit_bias_curves", fig)

    @staticmethod
    def _regions(ctx, cfg, get) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        d, n = cfg.d_for_n, cfg.n_fixed
        task = ClustersTask.random(d, cfg.k)  # only its grid is used
        xg, X1, X2 = task.grid(150)
        fig, ax = plt.subplots(1, 2, figsize=(9, 4.3))
        for a, r, lab in zip(ax, ("both", "output"), ("both layers", "output layer only")):
            st = get(d, n, cfg.m, r, 0)
            mu = ParticleMeasure(torch.from_numpy(np.asarray(st["theta"])), ReLU(d))
            f = mu.output(xg).numpy().reshape(X1.shape)
            a.contourf(X1, X2, np.sign(f), levels=[-2, 0, 2], colors=["#9ecae1", "#fcbba1"])
            a.contour(X1, X2, f, levels=[0], colors="k", linewidths=0.8)
            x, y = np.asarray(st["x"]), np.asarray(st["y"])
            a.scatter(x[:, 1], x[:, 2], c=np.where(y > 0, "C3", "C0"), s=8)
            a.set(xlabel="x1", ylabel="x2",
                  title=f"{lab}: d = {d}, n = {n}\ntest error {st['test_error']:.3f} (spurious coordinates 0)")
            a.set_aspect("equal")
        return ctx.save_figure("cb_decision_regions", fig)
