r"""The mean-field limit of the isotropic-Gaussians task as a 1-D PDE in r = |w|.

.. math::

    \partial_t \bar\rho_t(r) = \partial_r\big( \bar\rho_t(r)\, \partial_r \psi(r; \bar\rho_t) \big),
    \qquad r \ge 0, \quad \text{zero flux at } r = 0,

    \psi(r; \bar\rho) = v(r) + \tfrac12 \sum_{\tau \in \{1 \pm \Delta\}} \sum_{k \text{ even} \le K}
        \frac{E[u^k]}{k!}\, A_k(\tau r) \int A_k(\tau r')\, \bar\rho(dr'),
    \qquad E[u^{2m}] = \prod_{j<m} \frac{2j + 1}{d + 2j}.

**Derivation.** Mean-field gradient descent on R(mu) = 1/2 E (y - f_mu)^2 with frozen c = 1 is
d w/dt = -grad_w Psi(w; rho_t), Psi(w; rho) = v(|w|) + \int U(w, w') rho(dw') (docs/science.md §1.4; our
time t is MMN's 2 \int xi: their step s_k = eps xi(k eps) is our eta / 2). Assumptions:

1. rho_0 is rotation invariant in R^d (e.g. w ~ N(0, r0^2/d I_d)). V and U are invariant under
   rotations (x is isotropic given y), so rho_t stays rotation invariant.
2. For rotation-invariant rho, w' = r' u' with u' uniform on S^{d-1} independent of r', so
   \int U(w, w') rho(dw') depends on |w| only and grad_w Psi = psi'(r) w/r is radial: every particle
   moves along its ray with dr/dt = -psi'(r), and the law rhobar of r obeys the 1-D continuity
   equation above (no Jacobian appears because rhobar is the law of r, not a density in R^d).
3. U's Hermite series (:mod:`wgflow.tasks.gaussians`, eq. 1) averaged over the cosine u = w.w'/(r r')
   of a uniform direction in d dimensions (density ∝ (1 - u^2)^{(d-3)/2}) keeps even k only, with
   the moments E[u^{2m}] above. This is *exact at finite d* for the order-K kernel the particles use;
   MMN's d -> infinity equation is the k = 0 term alone (E[u^2] = 1/d -> 0).

**Scheme.** Finite volumes on a uniform grid of [0, r_max] (cell averages rho_i): MUSCL
reconstruction with a slope limiter, upwind fluxes F_{i+1/2} = v^+ rho^L + v^- rho^R with the exact
face velocity v = -psi'(r_{i+1/2}) (the nonlocal part enters through the 2(K/2 + 1) moments
\int A_k(tau r) rhobar dr, midpoint rule), zero flux at both ends, SSP-RK3 in time (Shu & Osher
1988) with dt = cfl h / max|v|. Mass is conserved to rounding (telescoping fluxes); with
cfl <= 1/2 and a TVD limiter every forward-Euler stage keeps rho >= 0, hence so does SSP-RK3.
Order: 2 in space where rho is smooth (first order only at extrema, where the limiter clips),
3 in time; ``tests/limits`` asserts a fitted order >= 1.7 from the L1 distances of successive
refinements (MC limiter, d = 40, t = 0.3, 200..3200 cells).

References
----------
1. S. Mei, A. Montanari & P.-M. Nguyen, PNAS 115 (2018), eq. (13) and the isotropic-Gaussians example.
2. B. van Leer, "Towards the ultimate conservative difference scheme V", J. Comput. Phys. 32 (1979).
3. C.-W. Shu & S. Osher, "Efficient implementation of ENO shock-capturing schemes", JCP 77 (1988).
4. R. J. LeVeque, "Finite volume methods for hyperbolic problems", CUP 2002, ch. 6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats

from ..measures.units import PiecewiseLinear
from ..tasks.gaussians import IsotropicGaussians, hermite_coefficients

__all__ = ["RadialModel", "RadialSolution", "solve_radial", "chi_radial_masses", "gibbs_radial_masses", "LIMITERS"]


def _minmod(a, b):
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


def _mc(a, b):  # monotonized central (van Leer 1977)
    return _minmod(0.5 * (a + b), 2 * _minmod(a, b))


def _vanleer(a, b):
    return np.where(a * b > 0, 2 * a * b / np.where(a + b == 0, 1.0, a + b), 0.0)


#: slope limiters (all TVD): name -> limited slope from left/right differences
LIMITERS = {"minmod": _minmod, "mc": _mc, "vanleer": _vanleer}


@dataclass(frozen=True)
class RadialModel:
    """psi(r; rhobar) of the isotropic-Gaussians task with a PiecewiseLinear unit (c = 1)."""

    task: IsotropicGaussians
    unit: PiecewiseLinear
    K: int = 8  # Hermite order (same as the particles' IsotropicGaussiansRisk)

    @property
    def lam(self) -> np.ndarray:
        """E[u^k]/k! for k = 0..K (zero for odd k), u the cosine of a uniform direction in R^d."""
        d, out, mom = self.task.d, np.zeros(self.K + 1), 1.0
        for k in range(0, self.K + 1, 2):
            out[k] = mom / math.factorial(k)
            mom *= (k + 1) / (d + k)
        return out

    def tables(self, r: np.ndarray):
        """v(r), v'(r), A (2, m, K+1) = A_k(tau r), D (2, m, K+1) = d/dr A_k(tau r)."""
        rt = torch.from_numpy(np.asarray(r, dtype=np.float64))
        tp, tm = self.task.taus
        Ap, Dp = hermite_coefficients(tp * rt, self.unit, self.K)
        Am, Dm = hermite_coefficients(tm * rt, self.unit, self.K)
        A = torch.stack([Ap, Am]).numpy()
        D = torch.stack([tp * Dp, tm * Dm]).numpy()
        return -0.5 * (A[0, :, 0] - A[1, :, 0]), -0.5 * (D[0, :, 0] - D[1, :, 0]), A, D

    def moments(self, mass: np.ndarray, A: np.ndarray) -> np.ndarray:
        """m^tau_k = \\int A_k(tau r) rhobar(dr) ~ sum_i mass_i A_k(tau r_i), shape (2, K + 1)."""
        return np.einsum("i,sik->sk", mass, A)

    def field(self, v: np.ndarray, A: np.ndarray, m: np.ndarray) -> np.ndarray:
        """psi = v + 1/2 sum_tau sum_k lam_k A_k(tau r) m^tau_k at the rows of ``A`` (2, r, K+1), given v(r)
        and the moments ``m`` (2, K+1) of rhobar; with v' and D = d/dr A in their place, psi'(r)."""
        return v + 0.5 * np.einsum("sik,sk->i", A, self.lam * m)

    def potential(self, r: np.ndarray, radii: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """psi(r; rhobar) at the radii ``r`` for rhobar = sum_j weights_j delta(radii_j) (equal weights by default)."""
        radii = np.asarray(radii, dtype=np.float64)
        a = np.full(radii.size, 1.0 / radii.size) if weights is None else np.asarray(weights, dtype=np.float64)
        v, _, A, _ = self.tables(r)
        return self.field(v, A, self.moments(a, self.tables(radii)[2]))

    def risk(self, mass: np.ndarray, v: np.ndarray, A: np.ndarray) -> float:
        """R(rhobar) = 1/2 + \\int v drhobar + 1/2 \\iint ubar drhobar drhobar (no self-interaction)."""
        m = self.moments(mass, A)
        return 0.5 + float(mass @ v) + 0.25 * float((self.lam * m * m).sum())


def chi_radial_masses(edges: np.ndarray, d: int, r0: float) -> np.ndarray:
    """Exact cell masses of the law of |w| for w ~ N(0, r0^2/d I_d): d |w|^2 / r0^2 ~ chi^2_d."""
    F = stats.chi2.cdf(d * edges**2 / r0**2, d)
    m = np.diff(F)
    m[-1] += 1.0 - F[-1]  # the (negligible) mass beyond r_max joins the last cell
    return m


def gibbs_radial_masses(
    model: RadialModel,
    radii: np.ndarray,
    edges: np.ndarray,
    temperature: float,
    weight_decay: float = 0.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Cell masses on ``edges`` of the law of r = |w| under the Gibbs law of the potential of rhobar.

    rho(w) \propto exp(-(Psi(w; rhobar) + wd |w|^2 / 2) / temperature) in R^d, with Psi(w; rhobar) = psi(|w|;
    rhobar) for rhobar = sum_j weights_j delta(radii_j) (rotation-invariant in its directions), so the law
    of r has density \propto r^{d-1} exp(-(psi(r; rhobar) + wd r^2 / 2) / temperature) (polar coordinates).
    This is the fixed-point map of noisy SGD (Mei, Montanari & Nguyen 2018: rho* \propto exp(-beta
    Psi_lambda(theta; rho*)), temperature 1 / beta, ridge lambda = wd), the stationary law of
    :func:`wgflow.flows.train` with ``noise = temperature`` and ``weight_decay = wd`` once rhobar is
    its own law. Midpoint rule in each cell; the mass beyond ``edges[-1]`` is dropped (renormalised).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    edges = np.asarray(edges, dtype=np.float64)
    r = 0.5 * (edges[1:] + edges[:-1])
    logp = (model.task.d - 1) * np.log(r) - (
        model.potential(r, radii, weights) + 0.5 * weight_decay * r**2
    ) / temperature
    m = np.exp(logp - logp.max()) * np.diff(edges)
    return m / m.sum()


@dataclass
class RadialSolution:
    """Cell masses of rhobar at the requested times, with the risk and mass along the way."""

    edges: np.ndarray  # (M + 1,)
    times: np.ndarray  # (S,)
    mass: np.ndarray  # (S, M) cell masses (density = mass / h)
    risk: np.ndarray  # (S,) R(rhobar_t)
    steps: int = 0
    info: dict = field(default_factory=dict)

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def density(self) -> np.ndarray:
        return self.mass / np.diff(self.edges)

    def points(self, s: int, sub: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """rhobar at time index s as weighted points (sub per cell, equal shares, cell density
        taken constant): the representation W2 solvers take; the W2 error is <= h / (2 sub)."""
        h = np.diff(self.edges)
        off = (np.arange(sub) + 0.5) / sub
        x = (self.edges[:-1, None] + h[:, None] * off[None, :]).ravel()
        a = np.repeat(self.mass[s] / sub, sub)
        keep = a > 0
        return x[keep], a[keep] / a[keep].sum()


def _checked_grid(edges, times, cfl: float, limiter: str) -> tuple[np.ndarray, float, np.ndarray]:
    """Validated uniform ``edges``, their spacing h and the output ``times`` of :func:`solve_radial`."""
    edges = np.asarray(edges, dtype=np.float64)
    h = float(edges[1] - edges[0])
    if not np.allclose(np.diff(edges), h, rtol=1e-9, atol=0):
        raise ValueError("solve_radial needs a uniform grid")
    if not 0 < cfl <= 0.5:
        raise ValueError(f"cfl must lie in (0, 1/2] for positivity, got {cfl}")
    if limiter not in LIMITERS:
        raise ValueError(f"unknown limiter {limiter!r}; choose one of: {', '.join(LIMITERS)}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or (np.diff(times) < 0).any() or (times < 0).any():
        raise ValueError("times must be a non-decreasing 1-D array of non-negative numbers")
    return edges, h, times


def _ssp_rk3_step(rhs, rho: np.ndarray, L0: np.ndarray, dt: float) -> np.ndarray:
    """One SSP-RK3 step (Shu-Osher form) of d rho/dt = rhs(rho)[0], given L0 = rhs(rho)[0]."""
    r1 = rho + dt * L0
    r2 = 0.75 * rho + 0.25 * (r1 + dt * rhs(r1)[0])
    return rho / 3.0 + 2.0 / 3.0 * (r2 + dt * rhs(r2)[0])


def solve_radial(
    model: RadialModel,
    mass0: np.ndarray,
    edges: np.ndarray,
    times,
    *,
    cfl: float = 0.4,
    limiter: str = "mc",
    max_steps: int = 10_000_000,
) -> RadialSolution:
    r"""Solve d_t rho = d_r(rho d_r psi) from cell masses ``mass0`` (M,) on ``edges`` (M+1,) uniform.

    Returns masses at every time of ``times`` (increasing, >= 0); steps are shortened to hit them.
    ``cfl`` <= 1/2 guarantees positivity; ``limiter`` in :data:`LIMITERS`.
    """
    edges, h, times = _checked_grid(edges, times, cfl, limiter)
    lim = LIMITERS[limiter]
    centers = 0.5 * (edges[1:] + edges[:-1])
    faces = edges[1:-1]  # interior faces; the two boundary fluxes are zero
    v_c, _, A_c, _ = model.tables(centers)
    _, dv_f, _, D_f = model.tables(faces)

    def velocity(rho):
        return -model.field(dv_f, D_f, model.moments(rho * h, A_c))  # -psi' at the faces, (M - 1,)

    def rhs(rho):
        v = velocity(rho)
        diff = np.diff(rho) / h
        slope = np.zeros_like(rho)
        slope[1:-1] = lim(diff[:-1], diff[1:])
        left = rho[:-1] + 0.5 * h * slope[:-1]  # state left of each interior face
        right = rho[1:] - 0.5 * h * slope[1:]
        flux = np.zeros(rho.size + 1)
        flux[1:-1] = np.maximum(v, 0) * left + np.minimum(v, 0) * right
        return -(flux[1:] - flux[:-1]) / h, np.abs(v).max(initial=0.0)

    rho = np.asarray(mass0, dtype=np.float64) / h
    out_mass, out_risk = [], []
    t, steps = 0.0, 0
    for t_next in times:
        while t < t_next - 1e-14:
            L0, vmax = rhs(rho)
            dt = min(cfl * h / max(vmax, 1e-12), t_next - t)
            rho = _ssp_rk3_step(rhs, rho, L0, dt)
            t += dt
            steps += 1
            if steps > max_steps:
                raise RuntimeError(f"solve_radial: more than {max_steps} steps (velocity too large?)")
        out_mass.append(rho * h)
        out_risk.append(model.risk(rho * h, v_c, A_c))
    return RadialSolution(
        edges, times, np.array(out_mass), np.array(out_risk), steps, {"cfl": cfl, "limiter": limiter, "h": h}
    )
