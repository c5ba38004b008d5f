r"""resnet-deep-limit: minimisers of the regularised ResNet energy converge as depth L -> ∞.

.. math::

    E_L(\theta) = \text{fit}(X_L) + \alpha \tfrac1L \sum_k |\theta_k|^2 + \beta L \sum_k |\theta_{k+1} - \theta_k|^2,
    \quad X_{k+1} = X_k + \tfrac1L \tanh(A_k X_k + b_k)
    \ \xrightarrow{\ \Gamma\ }\ \text{fit}(X(1)) + \alpha\!\int |\theta|^2 + \beta\!\int |\dot\theta|^2,
    \quad \dot X = \tanh(A X + b)

(Thorpe & van Gennip 2023, arXiv 1810.11741: Γ-convergence, hence convergence of minimisers).
For each L in ``Ls`` the energy is minimised by L-BFGS in float64 (objective differences at
large L are ~1e-5). The claims are about *minimisers* of a non-convex energy, so each
minimiser is approximated by the best of ``restarts`` independent random starts (lowest
objective kept). A random start is a random path on [0, 1] (``init_nodes`` random nodes,
piecewise linear) sampled at the L layer midpoints, so the law of the initialisation does not
depend on L (i.i.d. layers, ``init_nodes=0``, are averaged flat by the FD penalty at large L and
all land in the 0.35 local minimum on moons). ``warm_start`` adds the resampled coarser
minimiser as one more start (it is then kept only if it is best).
Claims, each judged over ``seeds`` realisations (each its own training set drawn from the task,
and the best of ``restarts`` random starts per depth: with one training set every realisation
finds the same minimisers to 1e-8, a zero-width CI). Thorpe & van Gennip prove convergence and
state no rate; the residual map is the forward-Euler step of the limit ODE, whose error is first
order, so (1) ``cauchy_objective`` and (2) ``paths_converge`` claim that the Cauchy gaps
|E_L - E_2L| and ||θ_L - θ_2L||_{L²(0,1)} shrink like L^-1: the cluster-t CI of the fitted exponent
(:func:`wgflow.stats.fit_power_law` with ``clusters=`` the realisation, observed at every depth) lies
within -1 ± ``rate_delta`` (equivalence), from >= 4 doubling depths (>= 3 gaps; the fit window is
``Ls``). Their null is the same fit on the initial energies and paths of the kept starts (random
paths drawn independently at each depth, whose gaps do not shrink). (3) ``ode_limit`` (seed 0):
the directly trained neural ODE (torchdiffeq, M nodes) agrees with the deepest ResNet within twice
the last Cauchy gap in energy and path, and that path gap is at most ``ode_rtol`` of ||θ_L||_L²
(else "within twice the gap" bounds nothing); null: the same rule on the initial ODE and ResNet
paths and energies. The bound *assumes rate 1* (forward Euler, |E_L - E_∞| <= |E_{L/2} - E_L| /
(2^1 - 1)); the bound implied by the measured rate is reported beside it. Every claim states in
its note when the minimisation did not lower E at some depth.

The finite-difference ablation (``ablation=True``) is reported as metrics, not claimed: Thorpe &
van Gennip prove nothing for β = 0. Without the FD penalty (β = 0) ``rel_gapP_nofd`` is the last
path gap / ||θ||_L2 (mean over seeds, with its t interval ``_lo``/``_hi``), ``rel_gapE_nofd`` the
last energy gap / E, ``h1_growth_*`` the growth of |θ'|²_H1 from the shallowest to the deepest
stack, with and without FD. The ablation runs on Thorpe–van Gennip's own model
(``ablation_variant="A"``, the model of claims 1-2) by default. A block of model A has no symmetry
for the FD term to break, and its magnitude penalty alone can make the β = 0 minimisers converge.
The variant ``ablation_variant="WA"`` (blocks W_k tanh(A_k X + b_k) with q exchangeable hidden
units) stays selectable. Its units can be relabelled (signed permutations) in every layer without
changing the network, so paths are compared modulo relabellings: ``ablation_quotient="layer"``
(default) takes one per layer, the exact quotient distance between doubling depths
(:func:`~wgflow.residual.aligned_unit_distance` with ``per_layer=True``), and measures |θ'|²_H1 on
the smoothest labelling (:func:`~wgflow.residual.align_layers`, the exact minimiser over per-layer
relabellings). ``"global"`` takes one relabelling for all layers, which counts label switches
between layers as non-convergence.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...domains import SEED, Bool, Choice, Domain, Float, Int, Ints
from ...harness import ConfigError, Experiment, ExperimentResult, register
from ...tasks.digits import digits
from ...tasks.moons import spirals, two_moons
from .claims import ablation_metrics, convergence_claims, ode_claim
from .figures import figures
from .train import sweep, train_ode


@dataclass(frozen=True)
class ResNetDeepLimitConfig:
    task: str = "moons"  # "moons", "spirals" (2-D, generated) or "digits" (scikit-learn, 64-D)
    m: int = 64  # training samples
    k: int = 2  # width of the residual stream (= d without embedding)
    embed: bool = False  # trainable input embedding E; it adds an exact gauge symmetry (signed permutations
    # of the stream), so independently initialised minimisers differ by a relabelling; use warm_start then
    Ls: tuple = (4, 8, 16, 32)  # depths, doubling (>= 4: the rates are fitted to >= 3 Cauchy gaps)
    seeds: int = 3  # realisations: each its own training set (data seed + 7919 s) and random starts (the best of
    # ``restarts`` per depth), observed at every depth; rates get cluster-t CIs over them
    alpha: float = 1e-2  # magnitude penalty (1/L) Σ |A_k|² + |b_k|²
    beta: float = 1e-2  # finite-difference penalty L Σ |ΔA|² + |Δb|²
    rho: float = 1e-2  # embedding/readout penalty
    init_scale: float = 1.0  # std of the random initial path nodes (× 1/sqrt k)
    init_nodes: int = 2  # random initial path: this many random nodes, piecewise linear, sampled at the L
    # layer midpoints (an L-independent law on paths); 0 = i.i.d. random layers
    restarts: int = 4  # independent random starts per depth (and for the ODE); the lowest objective is kept
    steps: int = 15  # L-BFGS outer steps (20 inner iterations each)
    warm_start: bool = False  # also start depth 2L (and the ODE) from the resampled coarser minimiser
    ode_nodes: int = 8  # nodes M of the neural ODE's piecewise-linear parameter path
    ode_method: str = "rk4"  # torchdiffeq method (rk4 with step 1/(2M), or dopri5)
    ablation: bool = True  # metrics: train the ablation model with and without the FD penalty
    ablation_variant: str = "A"  # the ablation's model: "A" = Thorpe–van Gennip's own (the model of claims 1-3), or
    # "WA" blocks W_k tanh(A_k X + b_k) with exchangeable hidden units, compared modulo one global relabelling
    ablation_hidden: int = 3  # hidden units q per block of the "WA" ablation model
    ablation_quotient: str = "layer"  # "WA" paths compared modulo relabellings of the hidden units: "layer" = one
    # per layer (each cell of the common refinement aligned on its own), "global" = one for all layers
    # claims 1-2: the exponent's CI must lie within -1 ± rate_delta. A second-order term, gap = a L^-1 (1 + c/L),
    # moves the exponent fitted over the gaps at L = 4, 8, 16 by [log(1 + c/16) - log(1 + c/4)] / log 4: -0.21 at
    # c = 2, +0.27 at c = -1.5; 0.25 admits |c| up to about 1.5 (a correction as large as the leading term at
    # L = 1.5) and keeps the null's exponent 0 (gaps that do not shrink) four margins away from -1
    rate_delta: float = 0.25
    ode_rtol: float = 0.1  # claim 3: the last Cauchy path gap is at most this fraction of ||θ_L||_L² (0, 1]: the
    # deepest pair is in the asymptotic regime, where twice that gap bounds the distance to the limit
    data_seed: int = 0  # data seed, added to the run seed

    def validate(self):
        if any(b != 2 * a for a, b in itertools.pairwise(self.Ls)):
            raise ConfigError("Ls: need >= 4 doubling depths (4, 8, 16, 32, ...)")

    domains: ClassVar[dict[str, Domain]] = {
        "task": Choice("moons", "spirals", "digits"),
        "m": Int(2),
        "k": Int(1),
        "embed": Bool(),
        "Ls": Ints(1, min_len=4, increasing=True),
        "alpha": Float(0),
        "beta": Float(0),
        "rho": Float(0),
        "init_scale": Float(0, open_lo=True),
        "init_nodes": Int(0),
        "restarts": Int(1),
        "steps": Int(1),
        "warm_start": Bool(),
        "ode_nodes": Int(1),
        "ode_method": Choice("rk4", "dopri5", "euler", "midpoint"),
        "ablation": Bool(),
        "ablation_variant": Choice("WA", "A"),
        "ablation_hidden": Int(1),
        "ablation_quotient": Choice("layer", "global"),
        "seeds": Int(1),
        "rate_delta": Float(0, 1, open_lo=True),
        "ode_rtol": Float(0, 1, open_lo=True),
        "data_seed": SEED,
    }


@register
class ResNetDeepLimit(Experiment):
    name = "resnet-deep-limit"
    title = "Deep-layer limit of trained ResNets: minimisers converge to a neural-ODE minimiser"
    reference = "Thorpe & van Gennip, Res. Math. Sci. 2023 (arXiv 1810.11741)"
    description = __doc__
    Config = ResNetDeepLimitConfig
    captions = {  # figure -> what it shows (the report's caption)
        "paths": "Parameter paths of the minimisers in depth time at every depth L (seed 0)",
        "gaps": "Cauchy gaps of energies and parameter paths between depths L and 2L, every seed",
        "tracks": "Tracks of the data through the deepest trained ResNet (seed 0)",
        "ablation": "Energy gaps, path gaps and path roughness with and without the finite-difference penalty",
    }
    cost = 130  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        # five realisations for the rate claims instead of three with the ablation's metrics (one more sweep per
        # seed), at less CPU time; the full preset reports the ablation
        "quick": {"seeds": 5, "ablation": False},
        "full": {"m": 256, "Ls": (4, 8, 16, 32, 64), "seeds": 10, "restarts": 8, "steps": 60, "ode_nodes": 32},
    }

    def _data(self, cfg, seed):
        if cfg.task == "moons":
            return two_moons(cfg.m, seed=seed)
        if cfg.task == "spirals":
            return spirals(cfg.m, seed=seed)
        return digits(cfg.m, seed=seed)

    def run(self, cfg: ResNetDeepLimitConfig, ctx) -> ExperimentResult:
        # one training set per realisation: the minimiser of one set is found identically from every start, so
        # realisations differing only in their starts agree to 1e-8 and give a zero-width CI
        data = [self._data(cfg, cfg.data_seed + ctx.seed + 7919 * s) for s in range(cfg.seeds)]
        x, y = data[0]
        res = ExperimentResult()
        kept = {}  # seed 0's models when trained in this process (ODE warm start, tracks)

        def fd_sweep(s):
            out, models = sweep(cfg, ctx, data[s][0], data[s][1], cfg.beta, "A", s)
            if s == 0:
                kept["models"] = models
            return out

        main = [ctx.stage(f"fd_s{s}", lambda s=s: fd_sweep(s)) for s in range(cfg.seeds)]
        Ls = np.array(cfg.Ls[:-1])
        descended = bool(all((m["E"] < m["E0"]).all() for m in main))  # minimisers, not the initial paths
        res.metrics["descended"] = float(descended)
        paths, gapE, gapP, fits = convergence_claims(cfg, res, main, Ls, descended)
        top = torch.as_tensor(main[0][f"p{len(cfg.Ls) - 1}"])
        o = ctx.stage("ode", lambda: train_ode(cfg, ctx, x, y, top, kept))
        ode_claim(cfg, res, o, main[0], gapE[0], descended, fits["cauchy_objective"])
        for L, e in zip(cfg.Ls, np.array([m["E"] for m in main]).mean(0)):
            res.metrics[f"E_L{L}"] = float(e)
        for L, gE, gP in zip(Ls, gapE.mean(0), gapP.mean(0)):
            res.metrics[f"gapE_L{L}"], res.metrics[f"gapP_L{L}"] = float(gE), float(gP)
        if cfg.ablation:
            ablation_metrics(cfg, ctx, res, self._ablation_arms(cfg, ctx, data, main), Ls)
        tracks = None
        if (cfg.k if cfg.embed else x.shape[1]) == 2 and kept:  # the stream is the plane: draw the data tracks
            with torch.no_grad():
                tracks = kept["models"][-1].tracks(x).detach().numpy()  # (L+1, m, 2)
        figures(cfg, ctx, res, paths[0], Ls, gapE, gapP, y, tracks)
        return res

    def _ablation_arms(self, cfg, ctx, data, main):
        """The ablation's sweeps of the ablation model with the FD penalty (β) and without it (β = 0), every seed."""
        v, arms = cfg.ablation_variant, {}
        for tag, beta in (("fd", cfg.beta), ("nofd", 0.0)):

            def one(s, beta=beta):
                return sweep(cfg, ctx, data[s][0], data[s][1], beta, v, s)[0]

            arms[tag] = [
                main[s]
                if v == "A" and tag == "fd"  # the same deterministic sweep as claims 1-3
                else ctx.stage(f"ablation_{v}_{tag}_s{s}", lambda s=s: one(s))
                for s in range(cfg.seeds)
            ]
        return arms
