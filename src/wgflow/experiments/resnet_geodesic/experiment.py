r"""resnet-geodesic: a ResNet trained with weight decay moves its data along the W2 geodesic.

.. math::

    x^{k+1} = x^k + \tfrac1L W_k \tanh(A_k x^k + b_k) \ \text{(ResNet)} \quad\text{vs}\quad
    x^{k+1} = W_k \tanh(A_k x^k + b_k) \ \text{(plain)},

    \mathrm{LSS} \ge 1,\quad \mathrm{OTS} \in [0, 1],\quad
    K = \sum_k h \|(x^{k+1} - x^k)/h\|^2_{L^2(\mu_k)} \ge W_2^2(\mu_0, \mu_L),\quad
    \tau = W_2^2(\mu_0, \mu_L) / \operatorname{Var} \mu_0

(Gai & Zhang 2021, arXiv 2102.09235; Benamou & Brenier 2000). Both networks have the same
width k of the stream, hidden width q and depth L, and are trained by full-batch Adam on
cross-entropy + γ|θ|² (weight decay) for each γ in ``gammas`` and each of ``seeds`` inits. On a
2-D task the stream is the plane itself (k = 2, no embedding); on digits the 64-D input is
embedded into a width-k stream, by default k = 2 as in the authors' 2-D MNIST picture (ten
classes cannot be separated linearly in the plane, so the stream must transport; with k = 8
the embedding and readout alone classify and weight decay switches the branches off,
τ <= 2e-6 from γ = 5e-3). Every score is computed for the trained network *and* for its own
initialisation, and recorded along training (``score_steps``; figure ``scores_vs_step``).

Why the claims compare with controls. Before any training, on digits, the ResNet already has
the lower LSS (4.3 vs 7.1) and the higher OTS (0.83 vs 0.007) than the plain net: "ResNet
below/above plain" is reported as metrics (``lss_gap_plain_minus_resnet[_init]``), not
claimed. OTS tends to 1 whenever the stream barely moves the data (the identity is the OT
map), so OTS and K/W2² are judged against a **transport-matched baseline**: the same
initialisation with its residual branches rescaled, x + (s/L) branch(x), with s chosen so that
it moves the data exactly as far (equal τ) as the trained network
(:func:`~wgflow.residual.baselines.transport_matched_scale`; figure ``scores_vs_transport``).
An untrained network is its own matched baseline (s = 1, differences exactly 0). Random branches
must be scaled up (s ≈ 3-25) to move the data as far as a trained network, which makes their
tracks wind, so this baseline is weak: the second, stronger one is the ResNet trained from the
same init with the same steps and learning rates but **without** weight decay (γ = 0), its
branches rescaled to move the data as far as the trained γ network — the same transport without
weight-decay training. Both baselines are built at every γ for every init (metrics
``{ots,kratio}_gain_over_{matched,matched0}_g{γ}``: paired mean gains, and their lower t bounds
``..._lo_g{γ}``). K/W2² keeps its 0/0 guard: when the stream does not move (W2² = 0) it is nan
(K = 0) or inf, never a number that could pass.

Claims, at the moderate γ = ``judge_gamma`` (1e-3) unless said, Student-t CIs over inits. Each
is judged by the same rule on its null, the same statistic for untrained networks:
(1) ``lss_decreases_in_training``: the ResNet's LSS falls under training (paired init - trained
CI > 0; null: the untrained network, whose paired difference is 0); (2) ``ots_above_matched``
and (3) ``kratio_below_matched``: the trained ResNet's OTS is above and its K/W2² below those of
its transport-matched untrained stack (paired CI > 0; null: the initialisation in place of the
trained network against the same matched stack); (4) Gai & Zhang's absolute levels:
``resnet_lss_level``, the whole CI of the ResNet's LSS in their range [1.1, 1.4] (the rule as
first written; the one-sided ``resnet_lss_level_posthoc``, CI < 1.4, was chosen after the first
run landed below 1.1 and is never counted), null the initialisation's LSS; ``resnet_ots_level``,
OTS CI > 0.96 while the stream transports (τ >= ``active_floor``; OTS -> 1 for a stream that
does not move), null the transport-matched stack; ``plain_levels``, the plain net's LSS CI within
[3.5, 4.6] and mean OTS <= 0.22, null the untrained plain net; (5) K/W2² -> 1 as γ grows:
``kinetic_ratio_decreases`` (the rule as first written: mean K/W2² strictly decreasing over the γ
grid from 0 up to the γ of peak ResNet test accuracy) and ``kinetic_ratio_decreases_posthoc``
(the trend rule that replaced it after it failed on digits with k = 8: median K/W2² from 0 up
to the moderate γ chosen by ``moderate_gamma``, "active" = the largest γ up to which the ResNet
still transports; Kendall τ <= ``trend_tau`` on >= 3 points and the excess over 1 at least
halved), both with the null of the same rule on the initialisations (which do not depend on γ);
(6) ``accuracy_peaks_moderate``: the ResNet's test accuracy peaks at an interior γ, chosen on
the first half of the inits, and its gain over γ = 0 has a paired CI > 0 on the other half
(Gai & Zhang: 74.5 % at γ = 0, 79.7 % at 5e-3); null: the same on the initialisations; (7) the
weight-decay effect at equal transport: ``wd_ots_at_equal_transport`` and
``wd_kratio_at_equal_transport``, the trained γ ResNet's OTS above and K/W2² below those of the
trained γ = 0 ResNet of the same init rescaled to its transport (paired CI > 0; null: the
initialisation rescaled to the same transport in place of the trained network, against the same
baseline); (8) ``resnet_generalises_better``: the ResNet's held-out test accuracy above the plain
network's (same widths, depth, parameter count, steps and learning rates) at every γ, each γ's
paired t interval > 0 (an intersection-union test; null: the same rule on the untrained networks;
Gai & Zhang: 74.5-79.7 % vs 44.1-69.6 %). Accuracies are metrics (``{net}_acc_g{γ}``,
``acc_gain_resnet_minus_plain_g{γ}``). With ``--untrained`` every claim fails (tests).

The 2-D tasks differ in what the ideal transport is. ``blobs`` (overlapping Gaussian clusters)
is separated by pushing the class means apart, a monotone map that is the gradient of a convex
potential and hence itself an OT map (Brenier): the fair 2-D test. ``moons`` needs a shear,
which is not an OT map, so OTS and K/W2² are not expected to favour the ResNet there.

Training: every (network, γ, init) is trained with each Adam learning rate in ``lrs`` and the
run with the lowest final training objective is kept (the plain stack and the ResNet need
different rates: a rate that suits the ResNet can collapse the plain stack to a constant output).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...domains import SEED, Choice, Domain, Float, Floats, Int, Ints, Text
from ...harness import ConfigError, Experiment, ExperimentResult, register
from ...tasks.digits import IMAGE_DATASETS, digits, image_dataset
from ...tasks.moons import blobs, spirals, two_moons
from .claims import accuracy_claim, kratio_claims, training_claims
from .comparisons import generalisation_claim, weight_decay_claims
from .figures import figures
from .train import COLS, fit, matched_to_gamma0

#: Gai & Zhang's CIFAR-100 values, read off the authors' slides (±0.02). THEIR measurements,
#: reference data only — never ours. Keys: L2 coefficient γ.
GAI_ZHANG_CIFAR100 = {
    "gamma": (0.0, 5e-4, 1e-3, 5e-3, 1e-2),
    "resnet_lss": (1.38, 1.28, 1.30, 1.55, 1.82),
    "plain_lss": (4.60, 4.13, 3.98, 3.54, 3.87),
    "resnet_ots": (1.00, 1.00, 0.99, 0.96, 0.86),
    "plain_ots": (0.15, 0.00, 0.22, 0.06, 0.00),
    "resnet_acc": (74.5, 76.4, 77.1, 79.7, 78.1),
    "plain_acc": (57.4, 64.2, 69.6, 67.8, 44.1),
}


@dataclass(frozen=True)
class ResNetGeodesicConfig:
    task: str = "digits"  # "digits" (embedded in a width-k stream) or "blobs"/"moons"/"spirals" (stream = plane);
    # "mnist"/"cifar10"/"cifar100" read files already on disk in data_dir (embedded like digits)
    data_dir: str = ""  # folder of the MNIST idx or CIFAR binary files (tasks mnist/cifar10/cifar100)
    m: int = 256  # training samples (scores are computed on them)
    m_test: int = 512  # test samples for the accuracy
    k: int = 2  # stream width on digits and image files (forced to 2, no embedding, on the 2-D tasks)
    q: int = 16  # hidden width inside each block (W_k tanh(A_k x + b_k))
    L: int = 8  # depth of both networks
    gammas: tuple = (0.0, 5e-4, 1e-3, 5e-3, 1e-2)  # weight-decay coefficients (the authors' grid)
    judge_gamma: float = 1e-3  # the "moderate" γ at which the training and level claims are judged (Gai–Zhang's
    # grid; their ResNet LSS 1.30, OTS 0.99 there); must be in gammas
    # kinetic_ratio_decreases_posthoc (the trend rule that replaced the original after it failed): K/W2² decreases
    # towards 1 over the γ grid from 0 up to the moderate γ:
    # "active" = the largest γ up to which the ResNet's blocks still transport the data (W2²(μ_0, μ_L) >=
    # active_floor · Var μ_0 at every γ on the way); "acc_peak" = the γ of peak ResNet test accuracy; a number
    # in ``gammas`` ("1e-3") fixes it. The registered original (mean strictly decreasing up to the accuracy peak)
    # does not read it.
    moderate_gamma: str = "active"
    trend_tau: float = (
        -0.6
    )  # the post-hoc trend rule: Kendall τ between γ and K/W2² over the ramp must be <= this (in [-1, 1])
    active_floor: float = 1e-2  # relative transport W2²(μ_0, μ_L) / Var μ_0 below which the stream is "off"
    seeds: int = 5  # initialisations per (network, γ); claims are judged on Student-t CIs over them
    steps: int = 200  # full-batch Adam steps
    lrs: tuple = (0.02, 0.005)  # Adam learning rates tried for every (network, γ, seed); the run with the
    # lowest final training objective is kept (tuned on the training set only, the same way for both networks)
    snapshots: tuple = (0, 30, 200)  # epochs at which 2-D tracks are drawn
    score_steps: tuple = (0, 10, 30, 100, 200)  # steps at which the scores are recorded (figure: init -> trained)
    data_seed: int = 0  # data seed, added to the run seed

    def validate(self):
        if self.task in IMAGE_DATASETS and not (self.data_dir and Path(self.data_dir).is_dir()):
            raise ConfigError(
                f"task {self.task} reads files on disk: set data_dir to the folder holding them "
                f"(got {self.data_dir!r}); nothing is downloaded"
            )
        if 0.0 not in self.gammas:
            raise ConfigError("gammas must contain 0")
        if float(self.judge_gamma) not in self.gammas:
            raise ConfigError(f"judge_gamma must be one of gammas {self.gammas}")
        if self.moderate_gamma not in ("active", "acc_peak"):
            try:
                ok = float(self.moderate_gamma) in self.gammas
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError("moderate_gamma must be 'active', 'acc_peak' or one of gammas (e.g. '1e-3')")

    domains: ClassVar[dict[str, Domain]] = {
        "task": Choice("blobs", "moons", "spirals", "digits", *IMAGE_DATASETS),
        "data_dir": Text(),
        "m": Int(2),
        "m_test": Int(1),
        "k": Int(1),
        "q": Int(1),
        "L": Int(1),
        "gammas": Floats(0, min_len=2, increasing=True),
        "moderate_gamma": Text(64),
        "trend_tau": Float(-1, 1),
        "active_floor": Float(0, open_lo=True),
        "seeds": Int(1),
        "steps": Int(1),
        "lrs": Floats(0, open_lo=True),
        "snapshots": Ints(0, increasing=True),
        "data_seed": SEED,
        "judge_gamma": Float(0),
        "score_steps": Ints(0, increasing=True),
    }


#: The source-scale preset on digits (``full``; ``full-blobs`` is the same on blobs in the plane): 10 inits
#: (every claim's t interval has 9 degrees of freedom), 2000 Adam steps, two learning rates. Each is sized to
#: run within the 2-hour budget on one core, and the two presets run side by side, one per core
#: (``wgflow run resnet-geodesic --preset full --threads 1`` and ``--preset full-blobs --threads 1``);
#: measured costs: ``results/costs.md``.
FULL = {
    "m": 512,
    "m_test": 1285,
    "seeds": 10,
    "steps": 2000,
    "snapshots": (0, 100, 500, 2000),
    "score_steps": (0, 10, 30, 100, 300, 1000, 2000),
}


@register
class ResNetGeodesic(Experiment):
    name = "resnet-geodesic"
    title = "ResNets with weight decay learn the Wasserstein geodesic; plain networks do not"
    reference = "Gai & Zhang 2021 (arXiv 2102.09235); Benamou & Brenier 2000"
    description = __doc__
    Config = ResNetGeodesicConfig
    captions = {  # figure -> what it shows (the report's caption)
        "scores_vs_gamma": "LSS, OTS and test accuracy against weight decay γ, trained and at initialisation",
        "source_scores_vs_gamma": "Gai & Zhang's own values on CIFAR-100 (not ours), for comparison",
        "scores_vs_step": "The scores along training at the moderate γ, from initialisation to the trained network",
        "scores_vs_transport": (
            "The scores against normalised transport, with both transport-matched baselines (the untrained stack "
            "and the trained γ = 0 ResNet, each rescaled to the trained network's transport)"
        ),
        "tracks": "Tracks of the data through the hidden layers of both networks during training",
        "geodesic": "The trained ResNet's tracks beside the W2 geodesic (McCann interpolation) between the same ends",
    }
    cost = 160  # quick preset, seconds on one idle core (the order of reproduce --jobs)
    presets = {
        "quick": {},
        # L stays 8: at L = 16 the plain width-2 tanh stack does not train at all (chance accuracy, outputs
        # blowing up to 1e20 or collapsing), which voids the comparison rather than tests it
        "full": FULL,
        "full-blobs": {**FULL, "task": "blobs"},
    }

    def _data(self, cfg, m, seed):
        makers: dict[str, Callable[..., Any]] = {"blobs": blobs, "moons": two_moons, "spirals": spirals}
        f = makers.get(cfg.task)
        if f:
            return f(m, seed=seed)
        if cfg.task == "digits":
            return digits(m, seed=seed)
        try:
            return image_dataset(cfg.task, cfg.data_dir, m, seed=seed)
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(str(e)) from None

    def run(self, cfg: ResNetGeodesicConfig, ctx) -> ExperimentResult:
        x, y = self._data(cfg, cfg.m + cfg.m_test, cfg.data_seed + ctx.seed)
        xt, yt, x, y = x[cfg.m :], y[cfg.m :], x[: cfg.m], y[: cfg.m]
        d, n_out = x.shape[1], int(y.max()) + 1
        embed = cfg.task == "digits" or cfg.task in IMAGE_DATASETS
        k = cfg.k if embed else d
        data = (x, y, xt, yt, d, k, n_out, embed)
        res = ExperimentResult()
        st = {}
        for net_name in ("resnet", "plain"):
            for gamma in cfg.gammas:
                st[(net_name, gamma)] = ctx.stage(
                    f"{net_name}_g{gamma:g}", lambda r=net_name == "resnet", g=gamma: fit(cfg, ctx.seed, data, r, g)
                )
        m0 = ctx.stage("resnet_matched_g0", lambda: matched_to_gamma0(cfg, ctx.seed, data, st))
        for i, gamma in enumerate(cfg.gammas):
            st[("resnet", gamma)]["matched0"] = m0[f"g{i}"]
        for net_name, gamma in st:
            _record(ctx, res, net_name, gamma, st[(net_name, gamma)])
        for when, key in (("", "rows"), ("_init", "init")):  # LSS gaps plain - ResNet: they hold at init, so metrics
            res.metrics[f"lss_gap_plain_minus_resnet{when}"] = float(
                min(st[("plain", g)][key][:, 0].mean() - st[("resnet", g)][key][:, 0].mean() for g in cfg.gammas)
            )
            res.metrics[f"ots_gap_resnet_minus_plain{when}"] = float(
                min(st[("resnet", g)][key][:, 1].mean() - st[("plain", g)][key][:, 1].mean() for g in cfg.gammas)
            )
        training_claims(cfg, res, st)
        weight_decay_claims(cfg, res, st)
        moderate = kratio_claims(cfg, res, st)
        accuracy_claim(cfg, res, st)
        generalisation_claim(cfg, res, st)
        figures(
            cfg,
            ctx,
            res,
            st,
            {n: {k_: v for k_, v in st[(n, moderate)].items() if k_.startswith("snap")} for n in ("resnet", "plain")},
            y.numpy(),
            GAI_ZHANG_CIFAR100,
        )
        return res


def _record(ctx, res, net_name, gamma, s):
    """Log one (network, γ) and record its mean scores (trained, init, and the ResNet's matched baselines)."""
    tr, i0 = s["rows"].mean(0), s["init"].mean(0)
    ctx.log(
        f"{net_name} γ={gamma:g}: trained (init) LSS {tr[0]:.3f} ({i0[0]:.3f}) OTS {tr[1]:.3f} "
        f"({i0[1]:.3f}) K/W2² {np.nanmedian(s['rows'][:, 2]):.3f} acc {tr[3]:.3f} τ {tr[4]:.3g} "
        f"({i0[4]:.3g}); lrs {s['rows'][:, 6]}"
        + "".join(
            f"; {what} (s {s[b][:, 3]}): LSS {s[b][:, 0].mean():.3f} OTS {s[b][:, 1].mean():.3f}"
            for b, what in (("matched", "matched untrained"), ("matched0", "matched γ = 0"))
            if b in s
        )
    )
    for j, c in enumerate(COLS):
        res.metrics[f"{net_name}_{c}_g{gamma:g}"] = float(tr[j])
        res.metrics[f"{net_name}_{c}_init_g{gamma:g}"] = float(i0[j])
    res.metrics[f"{net_name}_kratio_median_g{gamma:g}"] = float(np.nanmedian(s["rows"][:, 2]))
    for b in ("matched", "matched0"):
        if b in s:
            res.metrics[f"{net_name}_ots_{b}_g{gamma:g}"] = float(s[b][:, 1].mean())
            res.metrics[f"{net_name}_kratio_{b}_median_g{gamma:g}"] = float(np.nanmedian(s[b][:, 2]))
