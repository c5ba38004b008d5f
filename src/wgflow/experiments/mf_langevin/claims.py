"""mf-langevin's claims, each judged by one rule on the Langevin run and on plain gradient descent.

The null of every claim is the noiseless dynamics (plain GD, lambda = 0) with the same weight
decay, the same step and the same number of steps: what a skeptic offers when a noisy method is
credited with what gradient descent alone might do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...harness import Null, claim_ci_below, claim_le, claim_true
from ...stats import MeanCI

if TYPE_CHECKING:  # the config lives with its experiment, which imports this module
    from .experiment import MFLangevinConfig

_SRC_FE = "Chizat, TMLR 2022 and Mei, Montanari & Nguyen, PNAS 2018 (noisy GD descends the free energy)"
_SRC_GIBBS = "Chizat, TMLR 2022; Nitanda, Wu & Suzuki, AISTATS 2022 (stationary law = proximal Gibbs law)"
_SRC_ANNEAL = "Chizat, TMLR 2022, §4 (annealing reaches the unregularised minimum)"

NULL_FE = "plain GD (lambda = 0), same weight decay and steps, F_lambda by the same estimator and test"
NULL_GIBBS = "plain GD (lambda = 0), same weight decay and steps: its final particles against the Gibbs law of their V"
NULL_ANNEAL = "plain GD (lambda = 0), same weight decay and number of steps as the annealed run"


@dataclass(frozen=True)
class Descent:
    """A free-energy path: rises beyond 3 SE between snapshots (jumps), overall drop, mean SE."""

    jumps: np.ndarray
    drop: float
    se: float

    @property
    def passed(self) -> bool:
        return bool((self.jumps <= 0).all() and self.drop > 10 * self.se)

    def __str__(self) -> str:
        return f"max excess {self.jumps.max():.2e}; drop {self.drop:.4f} = {self.drop / self.se:.1f} SE"


@dataclass(frozen=True)
class GibbsRatio:
    """W2(particles, Gibbs reference) / the sampling floor, with the interval of the floor's mean."""

    w2: float
    floor: MeanCI

    @property
    def ratio(self) -> float:
        return self.w2 / self.floor.mean

    @property
    def ci(self) -> tuple[float, float]:
        return (self.w2 / self.floor.hi, self.w2 / self.floor.lo)


def claims(
    cfg: MFLangevinConfig, descent: tuple[Descent, Descent], gibbs: tuple[GibbsRatio, GibbsRatio], risks: dict
) -> list:
    """Claims (1)-(3), each with its plain-GD null."""
    (fe, fe_gd), (gb, gb_gd) = descent, gibbs
    R0 = risks["initial"]
    return [
        claim_true(
            "free_energy_decreases",
            "F_lambda(mu_t) never rises by more than 3 standard errors of the k-NN entropy between "
            "snapshots, and falls by more than 10 of them overall",
            str(fe),
            fe.passed,
            expected="no significant rise; drop > 10 SE",
            null=Null(NULL_FE, str(fe_gd), passed=fe_gd.passed),
            method="exact",
            power=f"k-NN entropy SE {fe.se:.2g} (x lambda) per snapshot",
            source=_SRC_FE,
            control=0.0,
            note="control: the drop of the untrained particles",
        ),
        claim_ci_below(
            "gibbs_fixed_point",
            f"W2(particles, proximal Gibbs of their own V) / the sampling floor (mean W2 of {cfg.n} "
            f"i.i.d. Gibbs samples to the reference = {gb.floor.mean:.4f}), CI upper end < {cfg.w2_factor}",
            gb.ratio,
            gb.ci,
            cfg.w2_factor,
            null=Null(NULL_GIBBS, gb_gd.ratio, gb_gd.ci),
            method="t-mean",
            source=_SRC_GIBBS,
            note=f"the interval is that of the floor's mean over {cfg.null_draws} draws",
        ),
        claim_le(
            "annealing_reaches_minimum",
            f"annealed (lambda_k = {cfg.anneal_lam:g} x {cfg.anneal_decay:g}^k) unregularised risk "
            f"/ initial risk (minimum 0)",
            risks["annealed"] / R0,
            cfg.anneal_ratio,
            null=Null(NULL_ANNEAL, risks["annealed_gd"] / R0),
            method="exact",
            power="one deterministic run per arm (no interval)",
            source=_SRC_ANNEAL,
            control=risks["constant"] / R0,
            note=f"control: constant lambda = {cfg.lam:g} (wd {cfg.weight_decay:g})",
        ),
    ]
