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
Claims: (1) |E_L - E_2L| decays (fitted power of L); (2) the
parameter paths converge in L²(0,1); (3) the directly trained neural ODE (torchdiffeq, M nodes)
agrees with the deepest ResNet within twice the last Cauchy gap (the distance to the limit
predicted by an order-1 rate); (4) ablation: without the FD penalty (β = 0) the energies still
converge but the parameter paths do not.

Claim 4 needs a model whose minimisers the FD penalty actually selects. Measured on moons
(α = 1e-2, seeds 0-2): in the model of claims 1-3 (variant A, X' = tanh(AX + b)) the magnitude
penalty alone already makes β = 0 minimisers converge (the lowest ones found, a warm chain
L = 4 ... 64, have L² gaps 0.92, 0.12, 0.059, 0.030), so claim 4 fails there
(``ablation_variant="A"``); a block of that model has no symmetry. The ablation therefore uses blocks
W_k tanh(A_k X + b_k) with q exchangeable hidden units (``ablation_variant="WA"``): a layer is
unchanged by permuting (and, tanh being odd, sign-flipping) its units, so without the FD term
nothing ties the labelling of one layer to the next. Paths are compared modulo one *global*
signed permutation (:func:`~wgflow.residual.paths.aligned_unit_distance`, exact assignment).
Measured (quick preset, seeds 0-9): with β > 0 the last path gap is 2-3 % of ||θ||_L2, halving per
doubling, and |θ'|²_H1 grows by ×1.1-1.3 from L = 4 to 16; with β = 0 the last gap is 64-122 % of
||θ|| and |θ'|²_H1 grows ×1.6-15 (the paths oscillate from layer to layer at a fixed L² size: no
H¹ bound, which is what makes minimising paths compact in L²). The β = 0 energies still settle:
their last gap is <= their first and 1.0-2.9 % of E. The first gap (L = 4 -> 8) is 3-8 % of E with
or without FD; it is the O(1/L) discretisation error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..residual import NeuralODE, ObjectiveConfig, ResidualStack, aligned_unit_distance, path_distance, resample_path
from ..residual.objective import train_multistart
from ..tasks.digits import digits
from ..tasks.moons import spirals, two_moons
from .base import ConfigError, Experiment, ExperimentResult, claim_le, claim_true, register
from .config import SEED, Bool, Choice, Domain, Float, Int, Ints


@dataclass(frozen=True)
class ResNetDeepLimitConfig:
    task: str = "moons"  # "moons", "spirals" (2-D, generated) or "digits" (scikit-learn, 64-D)
    m: int = 64  # training samples
    k: int = 2  # width of the residual stream (= d without embedding)
    embed: bool = False  # trainable input embedding E; it adds an exact gauge symmetry (signed permutations
    # of the stream), so independently initialised minimisers differ by a relabelling; use warm_start then
    Ls: tuple = (4, 8, 16)  # depths, doubling
    alpha: float = 1e-2  # magnitude penalty (1/L) Σ |A_k|² + |b_k|²
    beta: float = 1e-2  # finite-difference penalty L Σ |ΔA|² + |Δb|²
    rho: float = 1e-2  # embedding/readout penalty
    init_scale: float = 1.0  # std of the random initial path nodes (× 1/sqrt k)
    init_nodes: int = 2  # random initial path: this many random nodes, piecewise linear, sampled at the L
    # layer midpoints (an L-independent law on paths); 0 = i.i.d. random layers
    restarts: int = 8  # independent random starts per depth (and for the ODE); the lowest objective is kept
    steps: int = 15  # L-BFGS outer steps (20 inner iterations each)
    warm_start: bool = False  # also start depth 2L (and the ODE) from the resampled coarser minimiser
    ode_nodes: int = 8  # nodes M of the neural ODE's piecewise-linear parameter path
    ode_method: str = "rk4"  # torchdiffeq method (rk4 with step 1/(2M), or dopri5)
    ablation: bool = True  # claim 4: train the ablation model with and without the FD penalty
    ablation_variant: str = "WA"  # claim 4's model: "WA" blocks W_k tanh(A_k X + b_k) with exchangeable hidden
    # units, or "A" (the model of claims 1-3, where the magnitude penalty alone gives path convergence: claim 4 fails)
    ablation_hidden: int = 3  # hidden units q per block of the "WA" ablation model
    rate_bound: float = -0.5  # claims 1-2: fitted exponent of the Cauchy gaps must be <= this
    energy_rtol: float = 0.05  # claim 4: without FD the last energy gap is <= this fraction of the energy
    path_gap_floor: float = 0.25  # claim 4: without FD the last path gap stays >= this fraction of the path's norm
    data_seed: int = 0

    def validate(self):
        Ls = self.Ls
        if len(Ls) < 3 or any(b != 2 * a for a, b in zip(Ls, Ls[1:])):
            raise ConfigError("Ls: need >= 3 doubling depths (4, 8, 16, ...)")
        if self.restarts < 1 or self.init_nodes < 0:
            raise ConfigError("restarts must be >= 1 and init_nodes >= 0")
        if self.ablation_hidden < 1:
            raise ConfigError("ablation_hidden must be >= 1")

    domains: ClassVar[dict[str, Domain]] = {
        "task": Choice("moons", "spirals", "digits"), "m": Int(2), "k": Int(1), "embed": Bool(),
        "Ls": Ints(1, min_len=3, increasing=True), "alpha": Float(0), "beta": Float(0), "rho": Float(0),
        "init_scale": Float(0, open_lo=True), "init_nodes": Int(0), "restarts": Int(1), "steps": Int(1),
        "warm_start": Bool(), "ode_nodes": Int(1), "ode_method": Choice("rk4", "dopri5", "euler", "midpoint"),
        "ablation": Bool(), "ablation_variant": Choice("WA", "A"), "ablation_hidden": Int(1), "rate_bound": Float(),
        "energy_rtol": Float(0, open_lo=True), "path_gap_floor": Float(0), "data_seed": SEED}


def _slope(Ls, gaps):
    return float(np.polyfit(np.log(Ls), np.log(np.maximum(gaps, 1e-300)), 1)[0])


@register
class ResNetDeepLimit(Experiment):
    name = "resnet-deep-limit"
    title = "Deep-layer limit of trained ResNets: minimisers converge to a neural-ODE minimiser"
    reference = "Thorpe & van Gennip, Res. Math. Sci. 2023 (arXiv 1810.11741)"
    description = __doc__
    Config = ResNetDeepLimitConfig
    presets = {"quick": {},
               "full": {"m": 256, "Ls": (4, 8, 16, 32, 64), "steps": 60, "ode_nodes": 32}}

    def _data(self, cfg, seed):
        if cfg.task == "moons":
            return two_moons(cfg.m, seed=seed)
        if cfg.task == "spirals":
            return spirals(cfg.m, seed=seed)
        return digits(cfg.m, seed=seed)

    def run(self, cfg: ResNetDeepLimitConfig, ctx) -> ExperimentResult:
        x, y = self._data(cfg, cfg.data_seed + ctx.seed)
        d, n_out = x.shape[1], int(y.max()) + 1
        res = ExperimentResult()

        def init_path(model, g):
            """Overwrite the random i.i.d. layers of ``model`` by a random ``init_nodes``-node path."""
            if cfg.init_nodes:
                with torch.no_grad():
                    for name in model.layer_params():
                        P = getattr(model, name)
                        nodes = torch.randn(cfg.init_nodes, *P.shape[1:], generator=g, dtype=P.dtype)
                        s_ = 0.1 * cfg.init_scale if name == "b" else cfg.init_scale / P.shape[-1] ** 0.5
                        P.copy_(resample_path(s_ * nodes, P.shape[0], "linear"))
            return model

        def copy_from(model, prev, kind):  # warm start: the coarser minimiser resampled to this depth
            with torch.no_grad():
                for name in ("A", "b"):
                    getattr(model, name).copy_(resample_path(getattr(prev, name), model.L, kind))
                for name in ("E", "C", "c"):
                    if getattr(model, name) is not None:
                        getattr(model, name).copy_(getattr(prev, name))
            return model

        def sweep(beta, variant="A"):
            obj = ObjectiveConfig("ce", cfg.alpha, beta, cfg.rho)
            E, paths, models, rough = [], [], [], []
            for i, L in enumerate(cfg.Ls):
                warm = cfg.warm_start and bool(models)

                def make(r, L=L, warm=warm):
                    g = torch.Generator().manual_seed(1000 * ctx.seed + L + 1_000_003 * r)
                    net = ResidualStack(d, cfg.k if cfg.embed else d, L, n_out, embed=cfg.embed, scale=cfg.init_scale,
                                        variant=variant, hidden=cfg.ablation_hidden, generator=g)
                    if warm and r == cfg.restarts:
                        return copy_from(net, models[-1], "constant")
                    return init_path(net, g)

                net, r, totals = train_multistart(make, cfg.restarts + warm, x, y, obj, steps=cfg.steps)
                ctx.log(f"{variant} beta={beta:g} L={L}: E={r.terms['total']:.8f} fit={r.terms['fit']:.5f} "
                        f"|θ'|²_H1={r.terms['fd']:.4g} (starts: {', '.join(f'{t:.5f}' for t in totals)})")
                E.append(r.terms["total"])
                rough.append(r.terms["fd"])
                if variant == "A":
                    paths.append(torch.cat([net.A.detach().flatten(1), net.b.detach()], 1))  # (L, k²+k)
                else:
                    paths.append(net.unit_paths())  # (L, q, 2k+1)
                models.append(net)
            return np.array(E), paths, models, np.array(rough)

        fd_models = []

        def fd_sweep():
            E_, paths_, models_, rough_ = sweep(cfg.beta)
            fd_models.extend(models_)
            return _pack(E_, paths_, rough_)

        s = ctx.stage("fd", fd_sweep)
        E, paths = s["E"], _unpack(s, len(cfg.Ls))
        Ls = np.array(cfg.Ls[:-1])
        gapE = np.abs(np.diff(E))
        gapP = np.array([float(path_distance(paths[i], paths[i + 1], "L2", "constant")) for i in range(len(Ls))])
        rE, rP = _slope(Ls, gapE), _slope(Ls, gapP)
        res.claims.append(claim_le("cauchy_objective", "|E_L - E_2L| decays with L (fitted exponent)", rE, cfg.rate_bound))
        res.claims.append(claim_le("paths_converge", "||θ_L - θ_2L||_{L²(0,1)} decays with L (fitted exponent)",
                                   rP, cfg.rate_bound))

        def ode_stage():
            obj = ObjectiveConfig("ce", cfg.alpha, cfg.beta, cfg.rho)
            M = cfg.ode_nodes

            def make(r):
                g = torch.Generator().manual_seed(1000 * ctx.seed + 7 + 1_000_003 * r)
                ode = NeuralODE(d, cfg.k if cfg.embed else d, M, n_out, embed=cfg.embed, method=cfg.ode_method,
                                step_size=1 / (2 * M), scale=cfg.init_scale, generator=g)
                if r < cfg.restarts:
                    return init_path(ode, g)
                # warm start from the deepest ResNet's path (claim 3 then also tests a nearby minimiser)
                top = torch.as_tensor(s[f"p{len(cfg.Ls) - 1}"])
                kk = ode.A.shape[1]
                with torch.no_grad():
                    ode.A.copy_(resample_path(top[:, : kk * kk].reshape(-1, kk, kk), M, "linear"))
                    ode.b.copy_(resample_path(top[:, kk * kk:], M, "linear"))
                    if fd_models:
                        for name in ("E", "C", "c"):
                            if getattr(ode, name) is not None:
                                getattr(ode, name).copy_(getattr(fd_models[-1], name))
                return ode

            ode, r, totals = train_multistart(make, cfg.restarts + cfg.warm_start, x, y, obj, steps=cfg.steps)
            ctx.log(f"ODE M={M}: E={r.terms['total']:.8f} (starts: {', '.join(f'{t:.5f}' for t in totals)})")
            return {"E": r.terms["total"], "path": torch.cat([ode.A.detach().flatten(1), ode.b.detach()], 1).numpy()}

        o = ctx.stage("ode", ode_stage)
        pO = torch.as_tensor(o["path"])
        dE_ode = abs(float(o["E"]) - E[-1])
        dP_ode = float(path_distance(pO, paths[-1], "L2", "linear"))
        dP_last = float(path_distance(paths[-2], paths[-1], "L2", "linear"))
        ok3 = dE_ode <= 2 * gapE[-1] + 1e-9 and dP_ode <= 2 * dP_last
        res.claims.append(claim_true(
            "ode_limit", f"neural ODE (M={cfg.ode_nodes}) vs ResNet L={cfg.Ls[-1]}: |ΔE| <= 2|E_L/2 - E_L| and "
            "||Δθ||_L2 <= 2||θ_L/2 - θ_L||_L2", f"|ΔE|={dE_ode:.3g} (bound {2 * gapE[-1]:.3g}); "
            f"||Δθ||={dP_ode:.3g} (bound {2 * dP_last:.3g})", ok3, "both within twice the last Cauchy gap"))
        res.metrics.update({"rate_E": rE, "rate_path": rP, "E_ode": float(o["E"]), "dE_ode": dE_ode, "dP_ode": dP_ode})
        for L, e in zip(cfg.Ls, E):
            res.metrics[f"E_L{L}"] = float(e)
        for L, gE, gP in zip(Ls, gapE, gapP):
            res.metrics[f"gapE_L{L}"], res.metrics[f"gapP_L{L}"] = float(gE), float(gP)

        if cfg.ablation:
            self._ablation(cfg, ctx, res, sweep, Ls, s)
        tracks = None
        if (cfg.k if cfg.embed else d) == 2:  # the stream is the plane: draw the data tracks of the deepest ResNet
            if fd_models:
                net = fd_models[-1]
            elif not cfg.embed:  # rebuilt from the stored path (tracks of the stream need only A, b)
                L = cfg.Ls[-1]
                net = ResidualStack(d, d, L, n_out, embed=False, scale=cfg.init_scale)
                with torch.no_grad():
                    net.A.copy_(paths[-1][:, : d * d].reshape(L, d, d))
                    net.b.copy_(paths[-1][:, d * d:])
            else:
                net = None
            if net is not None:
                with torch.no_grad():
                    tracks = net.tracks(x).detach().numpy()  # (L+1, m, 2)
        self._figures(cfg, ctx, res, paths, Ls, gapE, gapP, x, y, tracks)
        return res

    def _ablation(self, cfg, ctx, res, sweep, Ls, main):
        """Claim 4: the ablation model trained with the FD penalty (β) and without it (β = 0).

        ``main``: the stage of claims 1-2 (variant A, β), reused when the ablation model is A.
        """
        v = cfg.ablation_variant

        def dist(P, Q):  # "WA": modulo one global relabelling of the hidden units (an exact symmetry)
            return aligned_unit_distance(P, Q) if v == "WA" else float(path_distance(P, Q, "L2", "constant"))

        def run(beta):
            E_, paths_, _, rough_ = sweep(beta, v)
            return _pack(E_, paths_, rough_)

        m = {}
        for tag, beta in (("fd", cfg.beta), ("nofd", 0.0)):
            if v == "A" and tag == "fd" and "rough" in main:  # the same deterministic sweep as claims 1-2
                st = main
            else:
                st = ctx.stage(f"ablation_{v}_{tag}", lambda beta=beta: run(beta))
            E_, P_ = st["E"], _unpack(st, len(cfg.Ls))
            gE = np.abs(np.diff(E_))
            gP = np.array([dist(P_[i], P_[i + 1]) for i in range(len(Ls))])
            norm = float(torch.sqrt((P_[-1] ** 2).sum() / P_[-1].shape[0]))  # ||θ_Lmax||_{L²(0,1)}
            m[tag] = {"gapE": gE, "gapP": gP, "E": E_, "rough": np.asarray(st["rough"]), "rel": gP[-1] / norm,
                      "ratio": gP[-1] / gP[0], "growth": float(st["rough"][-1] / max(st["rough"][0], 1e-300))}
            for L, a_, b_ in zip(Ls, gE, gP):
                res.metrics[f"ablation_{tag}_gapE_L{L}"], res.metrics[f"ablation_{tag}_gapP_L{L}"] = float(a_), float(b_)
            for L, r_ in zip(cfg.Ls, st["rough"]):
                res.metrics[f"ablation_{tag}_h1sq_L{L}"] = float(r_)
        n, f = m["nofd"], m["fd"]
        rel = float(n["gapE"][-1] / abs(n["E"][-1]))
        e_ok = n["gapE"][-1] <= n["gapE"][0] and rel <= cfg.energy_rtol
        p_ok = n["rel"] >= cfg.path_gap_floor
        res.claims.append(claim_true(
            "ablation_no_fd", f"model {v}, beta=0: energies still converge, but the parameter paths do not "
            "(the last path gap stays a sizeable fraction of the path)",
            f"β=0: E gaps {_fmt(n['gapE'])} (last {rel:.1%} of E); path gaps {_fmt(n['gapP'])} (last = "
            f"{n['rel']:.0%} of ||θ||, ratio last/first {n['ratio']:.2f}); |θ'|²_H1 {_fmt(n['rough'])} "
            f"(×{n['growth']:.1f}). With FD (β={cfg.beta:g}): E gaps {_fmt(f['gapE'])}; path gaps "
            f"{_fmt(f['gapP'])} (last = {f['rel']:.0%} of ||θ||, ratio {f['ratio']:.2f}); |θ'|²_H1 "
            f"{_fmt(f['rough'])} (×{f['growth']:.1f})", bool(e_ok and p_ok),
            f"β=0: last E gap <= the first and <= {cfg.energy_rtol:g}·E; last path gap >= "
            f"{cfg.path_gap_floor:g}·||θ||_L2"))
        self._ablation_figure(cfg, ctx, res, Ls, m)
        res.metrics.update({"path_ratio_nofd": float(n["ratio"]), "path_ratio_fd": float(f["ratio"]),
                            "rel_gapP_nofd": float(n["rel"]), "rel_gapP_fd": float(f["rel"]),
                            "h1_growth_nofd": n["growth"], "h1_growth_fd": f["growth"], "rel_gapE_nofd": rel})

    def _ablation_figure(self, cfg, ctx, res, Ls, m):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axs = plt.subplots(1, 3, figsize=(12, 3.5))
        for tag, lab, c in (("fd", f"β = {cfg.beta:g} (FD)", "C0"), ("nofd", "β = 0 (no FD)", "C3")):
            axs[0].loglog(Ls, m[tag]["gapE"], "o-", color=c, label=lab)
            axs[1].loglog(Ls, m[tag]["gapP"], "s-", color=c, label=lab)
            axs[2].loglog(cfg.Ls, m[tag]["rough"], "^-", color=c, label=lab)
        axs[0].set(xlabel="L", title="|E_L - E_2L|")
        axs[1].set(xlabel="L", title="||θ_L - θ_2L||_L2 (modulo a global relabelling)")
        axs[2].set(xlabel="L", title="|θ'|²_H1 = L Σ|θ_k+1 - θ_k|²")
        axs[0].legend(fontsize=8)
        fig.suptitle(f"ablation of the finite-difference penalty, model {cfg.ablation_variant}", fontsize=9)
        res.artifacts["ablation"] = ctx.save_figure("ablation", fig)

    def _figures(self, cfg, ctx, res, paths, Ls, gapE, gapP, x, y, tracks=None):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for L, P in zip(cfg.Ls, paths):
            t = (np.arange(L) + 0.5) / L
            for j in range(min(3, P.shape[1])):
                ax.step(t, P[:, j].numpy(), where="mid", color=f"C{j}", alpha=0.3 + 0.7 * L / cfg.Ls[-1])
        ax.set(xlabel="depth time t", ylabel="A(t) entries", title="parameter paths, darker = deeper")
        res.artifacts["paths"] = ctx.save_figure("paths", fig)
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        ax.loglog(Ls, gapE, "o-", label="|E_L - E_2L|")
        ax.loglog(Ls, gapP, "s-", label="||θ_L - θ_2L||_L2")
        ax.set(xlabel="L", title="Cauchy gaps")
        ax.legend()
        res.artifacts["gaps"] = ctx.save_figure("gaps", fig)
        if tracks is not None:
            fig, ax = plt.subplots(figsize=(4.5, 4))
            lab = np.asarray(y)
            for i in range(tracks.shape[1]):
                ax.plot(tracks[:, i, 0], tracks[:, i, 1], lw=0.5, alpha=0.5, color=f"C{int(lab[i]) % 10}")
            ax.scatter(tracks[-1, :, 0], tracks[-1, :, 1], s=6, c=[f"C{int(v) % 10}" for v in lab])
            ax.set(title=f"data tracks through the ResNet, L = {cfg.Ls[-1]}", xlabel="x1", ylabel="x2")
            res.artifacts["tracks"] = ctx.save_figure("tracks", fig)


def _fmt(v):
    return ", ".join(f"{float(a):.3g}" for a in v)


def _pack(E, paths, rough=None):
    """A sweep as a stage: energies, the paths p0, p1, ... and (optionally) their |θ'|²_H1."""
    out = {"E": E, **{f"p{i}": p.numpy() for i, p in enumerate(paths)}}
    if rough is not None:
        out["rough"] = rough
    return out


def _unpack(s, n):
    return [torch.as_tensor(s[f"p{i}"]) for i in range(n)]
