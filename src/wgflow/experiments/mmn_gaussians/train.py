"""The particle runs of mmn-gaussians: one ensemble of seeds per width and flow, the distances of their |w|
laws, SGD's (P, eta) pairs against the exact-gradient flow, and the noisy run against its Gibbs law.

Every run is :func:`wgflow.flows.train` on an ensemble of the seeds' particle systems (c frozen at 1);
the experiment module stores each as a stage.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...flows import Ensemble, FlowConfig, train
from ...limits.radial import RadialModel, RadialSolution, gibbs_radial_masses
from ...measures.measure import ParticleMeasure
from ...stats import mean_ci
from ...transport import wasserstein

if TYPE_CHECKING:  # the config lives with its experiment, which imports this module
    from .experiment import MMNGaussiansConfig


def flow_at(cfg: MMNGaussiansConfig, eta: float, batch: int | None = None) -> FlowConfig:
    """The particle flow at step ``eta`` to T (c frozen), snapshots at the histogram times; online SGD with ``batch``."""
    return FlowConfig(
        eta=eta,
        steps=int(round(cfg.T / eta)),
        eta_output=0.0,
        risk_every=cfg.risk_every,
        snapshot_steps=tuple(int(round(t / eta)) for t in cfg.hist_times),
        batch_size=batch or None,
    )


def run_seeds(cfg: MMNGaussiansConfig, ctx, obj, flow: FlowConfig, unit, n: int, key: str) -> dict:
    """The ``seeds`` particle systems of width n as one ensemble: risk (seeds, R), |w_i| at the snapshots r (seeds, S, n).

    Independent draws for every (N, seed): a generator shared across N would nest the samples
    (torch.randn's first rows coincide) and correlate the N-dependence the fits measure. Member s
    draws its minibatches (online SGD) from its own stream, seed s.
    """
    thetas = []
    for seed in range(cfg.seeds):
        g = torch.Generator().manual_seed(1_000_003 * ctx.seed + 1009 * seed + n)
        theta = unit.init(n, generator=g, dtype=torch.float64, w_scale=cfg.r0)
        theta[:, 0] = 1.0  # MMN: no output weight (frozen by eta_output = 0)
        thetas.append(ParticleMeasure(theta, unit))
    trajs = train(
        Ensemble.stack(thetas),
        [obj] * cfg.seeds,
        flow,
        seed=list(range(cfg.seeds)),
        progress=ctx.progress,
        checkpointer=ctx.checkpointer(key),
    )
    ctx.save_trajectory(f"trajectory_{key}", trajs[0])  # seed 0's flow: wgflow.interop.load_trajectory
    return {
        "risk_times": trajs[0].risk_times,
        "risk": np.stack([t.risk for t in trajs]),
        "snap_steps": trajs[0].snapshot_steps,
        "r": np.stack([np.linalg.norm(t.snapshots[:, :, 1:], axis=2) for t in trajs]),  # snapshots at 0, hist_steps
    }


def distances(run: dict, laws: list, hist_steps: tuple) -> dict:
    """1-D W2 of one particle run's |w| laws: to the PDE at the histogram times, and the controls.

    ``laws``: [(x, a)] weighted points of rhobar at t = 0 and at each histogram time.
    """
    snap = {int(k): i for i, k in enumerate(run["snap_steps"])}
    r0 = run["r"][snap[0]]
    rt = [run["r"][snap[k]] for k in hist_steps]
    w2 = lambda u, law: wasserstein(u, law[0], None, law[1], method="1d")
    return {
        "to_pde": np.array([w2(r, law) for r, law in zip(rt, laws[1:])]),  # (H,)
        "init_to_pde": np.array([w2(r0, law) for law in laws[1:]]),  # (H,) control: untrained particles
        "init_to_pde0": w2(r0, laws[0]),  # t = 0 sampling error
        "moved": np.array([wasserstein(r0, r, method="1d") for r in rt]),
    }  # (H,) the particles' own motion


def sgd_pairs(cfg: MMNGaussiansConfig, particles, gd_n: list | None, laws: list, floor_t: np.ndarray) -> dict:
    """Claim 6's runs at width ``noise_n``: per (P, eta) pair and seed, the SGD run's departure from the exact-gradient
    flow at that eta from the same initial particles, its null (the next seed's flow), and its gap to the PDE / floor.

    ``particles(n, flow, stage key, checkpoint key)`` runs the seeds at width n; ``gd_n``: the exact-gradient
    runs at ``noise_n`` and ``cfg.eta`` (None when the main runs are minibatch SGD).
    """
    n = cfg.noise_n
    gd = {} if gd_n is None else {cfg.eta: gd_n}
    out: dict = {"level": [], "seed": [], "dep": [], "dep_null": [], "gap": {}, "dep_by_pair": {}}
    for P, eta in zip(cfg.sgd_batches, cfg.sgd_etas):
        if eta not in gd:
            gd[eta] = particles(n, flow_at(cfg, eta), f"particles-n{n}-eta{eta:g}", f"mmn-n{n}-P0-eta{eta:g}")
        sgd = particles(n, flow_at(cfg, eta, P), f"sgd-n{n}-P{P}-eta{eta:g}", f"mmn-n{n}-P{P}-eta{eta:g}")
        hist = tuple(int(round(t / eta)) for t in cfg.hist_times)
        dep = [departure(run, gd[eta][s], hist) for s, run in enumerate(sgd)]
        out["dep"] += dep
        out["dep_null"] += [departure(run, gd[eta][(s + 1) % cfg.seeds], hist) for s, run in enumerate(sgd)]
        out["level"] += [eta / P] * cfg.seeds
        out["seed"] += list(range(cfg.seeds))
        out["dep_by_pair"][(P, eta)] = mean_ci(dep)
        out["gap"][(P, eta)] = mean_ci([np.max(distances(run, laws, hist)["to_pde"] / floor_t) for run in sgd])
    return out


def departure(a: dict, b: dict, hist_steps: tuple) -> float:
    """max over the histogram times of W2 between the |w| laws of two runs of one flow's snapshot steps."""
    snap = {int(k): i for i, k in enumerate(a["snap_steps"])}
    return max(wasserstein(a["r"][snap[k]], b["r"][snap[k]], method="1d") for k in hist_steps)


def noisy_fixed_point(cfg: MMNGaussiansConfig, ctx, particles, model: RadialModel) -> dict:
    """Claim 7's runs at ``noisy_n`` particles: Langevin dynamics (noise 1/beta, ridge lambda) and its noiseless
    null; per seed, W2 / floor of the final |w| (and, as a control, the initial) to the Gibbs law of its own psi."""
    steps = int(round(cfg.noisy_T / cfg.noisy_eta))
    plain = FlowConfig(
        eta=cfg.noisy_eta,
        steps=steps,
        eta_output=0.0,
        risk_every=max(1, steps // 20),
        snapshot_steps=(steps,),
        weight_decay=cfg.noisy_lambda,
    )
    noisy = dataclasses.replace(plain, noise=1.0 / cfg.noisy_beta)
    n, key = cfg.noisy_n, f"n{cfg.noisy_n}-beta{cfg.noisy_beta:g}-lambda{cfg.noisy_lambda:g}"
    runs = {
        "noisy": particles(n, noisy, f"noisy-{key}", f"mmn-noisy-{key}"),
        "plain": particles(n, plain, f"noiseless-{key}", f"mmn-noiseless-{key}"),
    }
    rng = np.random.default_rng(30_000 + ctx.seed)
    ratio = lambda r: gibbs_ratio(cfg, model, r, rng)
    out: dict = {k: [ratio(run["r"][-1]) for run in v] for k, v in runs.items()}
    out["initial"] = [ratio(run["r"][0]) for run in runs["noisy"]]
    edges = np.linspace(0.0, cfg.r_max, cfg.cells + 1)
    gibbs = lambda r: gibbs_radial_masses(model, r, edges, 1.0 / cfg.noisy_beta, cfg.noisy_lambda)
    out["example"] = {k: (v[0]["r"][-1], gibbs(v[0]["r"][-1])) for k, v in runs.items()}  # seed 0, for the figure
    out["edges"] = edges
    return out


def gibbs_ratio(cfg: MMNGaussiansConfig, model: RadialModel, r: np.ndarray, rng: np.random.Generator) -> float:
    """W2(law of the radii r, the radial Gibbs law of their own psi) / the mean W2 of an i.i.d. sample of that law
    of the same size (``floor_pairs`` draws): an i.i.d. sample scores 1."""
    edges = np.linspace(0.0, cfg.r_max, cfg.cells + 1)
    mass = gibbs_radial_masses(model, r, edges, 1.0 / cfg.noisy_beta, cfg.noisy_lambda)
    x, a = RadialSolution(edges, np.zeros(1), mass[None], np.zeros(1)).points(0, sub=8)
    w2 = lambda u: wasserstein(u, x, None, a, method="1d")
    return w2(r) / np.mean([w2(rng.choice(x, r.size, p=a)) for _ in range(cfg.floor_pairs)])
