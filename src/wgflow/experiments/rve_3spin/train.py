"""rve-3spin's flows: the sigmoid SGD stage (SGD, quench, its controls, the fixed-step and batch-law side runs), the
RBF stage, and :func:`step_plan`, every flow a config trains (for cost estimates).

Each stage runs the targets of one width as one ensemble (:class:`~wgflow.flows.Ensemble`) and returns a dict of
per-target arrays (:func:`_stack`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ...flows import Ensemble, FlowConfig, Trajectory, train
from ...measures.measure import ParticleMeasure
from ...measures.units import RBFSphere, Sigmoid
from ...objectives.risks import DatasetRisk, OnlineRisk
from ...tasks.three_spin import ThreeSpin
from .claims import alpha_batch, alpha_tag

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _stack(rows: list[dict]) -> dict:
    """Member dicts -> one dict of stacked arrays (shared arrays, e.g. the slice angles, kept once)."""
    out = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    out["slice_s"] = rows[0]["slice_s"]
    return out


def inner_step(cfg) -> float:
    """The multiplier of the inner weights' (w, b) step: 1 for plain SGD, ``layered_inner`` for the "layered"
    dynamics (per-layer steps: a constant diagonal mobility, still a Wasserstein gradient flow, in a metric
    that weights the inner coordinates by 1/layered_inner, so RVE's mean-field limit and its scalings hold)."""
    return cfg.layered_inner if cfg.dynamics == "layered" else 1.0


def collapse_steps(cfg) -> int:
    """Steps of the main SGD phase that reach the mean-field time ``collapse_time`` (at least 1, at most all)."""
    return int(min(cfg.sgd_steps, max(1, round(cfg.collapse_time / cfg.eta))))


@dataclass(frozen=True)
class Flow:
    """One flow a run trains, as its cost sees it: ``targets`` members of width n, batch P, ``steps`` steps."""

    unit: str  # "sigmoid" (SGD on fresh samples) or "rbf" (full-batch gradient descent on rbf_n_train points)
    d: int
    n: int
    batch: int
    steps: int


def step_plan(cfg) -> list[Flow]:
    """Every flow :meth:`~wgflow.experiments.rve_3spin.experiment.RVE3Spin.run` trains under ``cfg`` (each an ensemble of ``cfg.targets``), for cost estimates
    (``benchmarks/bench_ensemble.py --estimate PRESET`` times one step of each and multiplies)."""
    out = []
    for d in cfg.dims:
        for n in cfg.n_values:
            P = n // cfg.batch_div
            out += [Flow("sigmoid", d, n, P, cfg.sgd_steps), Flow("sigmoid", d, n, P * P, cfg.quench_steps)]
            out += [Flow("sigmoid", d, n, P, 2 * cfg.quench_steps), Flow("sigmoid", d, n, P, collapse_steps(cfg))]
            out += [Flow("sigmoid", d, n, alpha_batch(cfg, n, a), cfg.sgd_steps) for a in cfg.batch_alphas]
    if cfg.rbf:
        out += [Flow("rbf", cfg.rbf_d, n, cfg.rbf_n_train, cfg.rbf_steps) for n in cfg.rbf_n_values]
    return out


def sigmoid_stage(cfg, d: int, n: int, seeds: list[int], ctx) -> dict:
    """The E = len(seeds) targets at width n as ensembles: SGD, then the quench and its controls.

    Phase 1: ``sgd_steps`` with P = floor(n/batch_div), a snapshot at mean-field time ``collapse_time``. From
    its end three continuations of ``quench_steps`` each: the quench (P^2), the control (P again) and a second
    control (another SGD stream). Beside it, from the same particles: the fixed-step control of the collapse
    claim (:func:`_fixed_step_control`) and one SGD run per ``batch_alphas`` (:func:`_alpha_runs`).
    """
    fs = [ThreeSpin.random(d, seed=s) for s in seeds]
    objs = [OnlineRisk(f.sampler(), f, n_test=cfg.n_test, test_seed=s + 7) for f, s in zip(fs, seeds)]
    mus = _sigmoid_init(cfg, d, n, seeds)
    P, kw = n // cfg.batch_div, collapse_steps(cfg)
    key = f"sigmoid-d{d}-n{n}"
    sgd = FlowConfig(
        eta=cfg.eta,
        eta_inner=inner_step(cfg),
        steps=cfg.sgd_steps,
        batch_size=P,
        risk_every=max(1, cfg.sgd_steps // 60),
        snapshot_steps=(kw,),
    )

    def run(start: Ensemble, flow: FlowConfig, stream: int, phase: str) -> list[Trajectory]:
        seed = [s + 1000 * n + stream for s in seeds]
        trajs = train(
            start, objs, flow, seed=seed, progress=ctx.progress, checkpointer=ctx.checkpointer(f"{key}-{phase}")
        )
        ctx.save_trajectory(f"trajectory_{key}-{phase}", trajs[0])  # the first target's: interop.load_trajectory
        return trajs

    first = run(Ensemble.stack(mus), sgd, 1, "sgd")
    start = Ensemble.stack([t.final for t in first])
    after = {}
    # the control2 continuation draws another SGD stream: the null of the quench claim
    for phase, batch, stream in (("quench", P * P, 2), ("control", P, 2), ("control2", P, 3)):
        flow = dataclasses.replace(
            sgd, steps=cfg.quench_steps, batch_size=batch, risk_every=max(1, cfg.quench_steps // 20), snapshot_steps=()
        )
        after[phase] = run(start, flow, stream, phase)
    out = _sigmoid_rows(fs, objs, first, after)
    out["at_collapse"] = np.array([o.risk(t.measure_at(list(t.snapshot_steps).index(kw))) for o, t in zip(objs, first)])
    out["init_collapse"] = np.array([o.risk(t.measure_at(0)) for o, t in zip(objs, first)])
    out["fixed_step"] = _fixed_step_control(cfg, n, mus, objs, seeds, ctx, key)
    out.update(_alpha_runs(cfg, n, mus, objs, seeds, ctx, key))
    return out


def _sigmoid_init(cfg, d: int, n: int, seeds: list[int]) -> list[ParticleMeasure]:
    """The initial particles of every target at width n (the same for the main run and its side runs)."""
    unit = Sigmoid(d)
    gens = [torch.Generator().manual_seed(s + 1000 * n) for s in seeds]
    kw = {"dtype": DTYPES[cfg.dtype], "c_scale": cfg.c_scale, "w_scale": cfg.w_scale}
    return [ParticleMeasure(unit.init(n, generator=g, **kw), unit) for g in gens]


def _fixed_step_control(cfg, n: int, mus, objs, seeds, ctx, key: str) -> np.ndarray:
    """The collapse claim's null: as many steps as reach ``collapse_time`` in mean-field time, with the same
    minibatches, at the fixed parameter step of the standard parametrisation (per-particle step eta n0/n,
    n0 the smallest width: the main run's step at n0), so time runs n/n0 times slower at width n.
    Returns the loss after those steps (E,); the loss at step 0 is the main run's."""
    flow = FlowConfig(
        eta=cfg.eta * min(cfg.n_values) / n,
        eta_inner=inner_step(cfg),
        steps=collapse_steps(cfg),
        batch_size=n // cfg.batch_div,
        risk_every=collapse_steps(cfg),
        n_snapshots=2,
    )
    seed = [s + 1000 * n + 1 for s in seeds]  # the main run's stream: the same samples at every step
    tr = train(
        Ensemble.stack(mus), objs, flow, seed=seed, progress=ctx.progress, checkpointer=ctx.checkpointer(f"{key}-fixed")
    )
    return np.array([t.risk[-1] for t in tr])


def _alpha_runs(cfg, n: int, mus, objs, seeds, ctx, key: str) -> dict:
    """Per batch exponent alpha: ``sgd_steps`` of SGD at P = :func:`alpha_batch` from the same particles; the final
    loss (E,) under ``pre_<alpha_tag>``."""
    out = {}
    for i, a in enumerate(cfg.batch_alphas):
        flow = FlowConfig(
            eta=cfg.eta,
            eta_inner=inner_step(cfg),
            steps=cfg.sgd_steps,
            batch_size=alpha_batch(cfg, n, a),
            risk_every=cfg.sgd_steps,
            n_snapshots=2,
        )
        tr = train(
            Ensemble.stack(mus),
            objs,
            flow,
            seed=[s + 1000 * n + 4 + i for s in seeds],
            progress=ctx.progress,
            checkpointer=ctx.checkpointer(f"{key}-{alpha_tag(a)}"),
        )
        out[f"pre_{alpha_tag(a)}"] = np.array([t.risk[-1] for t in tr])
    return out


def _sigmoid_rows(fs: list[ThreeSpin], objs: list[OnlineRisk], first: list, after: dict) -> dict:
    """Per target: the SGD-then-quench risk curve, the risks at t = 0, before and after the quench and its two
    controls, errors."""
    rows = []
    for e, f in enumerate(fs):
        a, q = first[e], after["quench"][e]
        rows.append(
            {
                "risk": np.concatenate([a.risk, q.risk[1:]]),
                "init": float(a.risk[0]),
                "pre": float(a.risk[-1]),
                "post": float(q.risk[-1]),
                "control": float(after["control"][e].risk[-1]),
                "control2": float(after["control2"][e].risk[-1]),
                **_errors(f, q.final, objs[e]),
            }
        )
    out = _stack(rows)
    out["risk_times"] = np.concatenate([first[0].risk_times, first[0].risk_times[-1] + q.risk_times[1:]])
    return out


def _errors(f: ThreeSpin, mu: ParticleMeasure, obj: OnlineRisk) -> dict:
    """Signed errors <(f - f_n) Theta(f)> on the test points and f, f_n on a great circle."""
    x, y = obj.test_set(mu.theta.dtype, mu.theta.device)
    with torch.no_grad():
        e = (y - mu.output(x)).double()  # (B,)
        s, xc = f.great_circle(seed=0, dtype=mu.theta.dtype)
        fc = mu.output(xc.to(mu.theta.device))
    y = y.double()
    return {
        "signed_f": float((e * y).mean()),
        "signed_heaviside": float((e * (y > 0)).mean()),
        "slice_s": s.numpy(),
        "slice_f": f(xc).double().numpy(),
        "slice_fn": fc.double().cpu().numpy(),
    }


def rbf_stage(cfg, n: int, seeds: list[int], ctx) -> dict:
    """RBF gradient descent on a fixed sample per target (one ensemble); loss on fresh test points."""
    d = cfg.rbf_d
    dtype = DTYPES[cfg.rbf_dtype]
    fs = [ThreeSpin.random(d, seed=s) for s in seeds]
    xs = [
        f.sampler()(cfg.rbf_n_train, generator=torch.Generator().manual_seed(s + 3), dtype=dtype)
        for f, s in zip(fs, seeds)
    ]
    tests = [OnlineRisk(f.sampler(), f, n_test=cfg.n_test, test_seed=s + 7) for f, s in zip(fs, seeds)]
    xt = torch.stack([t.test_set(dtype)[0] for t in tests])
    yt = torch.stack([t.test_set(dtype)[1] for t in tests]).double()
    unit = RBFSphere(d)
    mus = [
        ParticleMeasure(
            unit.init(n, generator=torch.Generator().manual_seed(s + 1000 * n), dtype=dtype, c_scale=cfg.c_scale), unit
        )
        for s in seeds
    ]
    flow = FlowConfig(
        eta=cfg.rbf_eta,
        eta_inner=cfg.rbf_eta_inner,
        steps=cfg.rbf_steps,
        noise=cfg.rbf_noise,
        noise_until=cfg.rbf_noise_until,
        risk_every=cfg.rbf_steps,
        n_snapshots=25,
    )
    trajs = train(
        Ensemble.stack(mus),
        [DatasetRisk(x, f(x)) for x, f in zip(xs, fs)],
        flow,
        seed=[s + 1000 * n + 1 for s in seeds],
        probe=xt,
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(f"rbf-n{n}"),
    )
    ctx.save_trajectory(f"trajectory_rbf-n{n}", trajs[0])  # the first target's flow: wgflow.interop.load_trajectory
    rows = []
    for e, tr in enumerate(trajs):
        loss = 0.5 * ((torch.from_numpy(tr.probe_f).double() - yt[e]) ** 2).mean(1).numpy()  # (S,)
        rows.append(
            {"risk": loss, "init": float(loss[0]), "post": float(loss[-1]), **_errors(fs[e], tr.final, tests[e])}
        )
    out = _stack(rows)
    out["risk_times"] = trajs[0].snapshot_times
    return out
