"""The 1-D radial PDE of the isotropic-Gaussians task: order, mass, positivity, energy, consistency."""

import itertools

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.limits.radial import RadialModel, chi_radial_masses, solve_radial
from wgflow.stats import loglog_slope
from wgflow.tasks.gaussians import IsotropicGaussians

D, R0 = 40, 0.8


def _model(d=D, K=8):
    return RadialModel(IsotropicGaussians(d, 0.8), wg.measures.PiecewiseLinear(d), K)


def _solve(cells, times, r_max=4.0, **kw):
    edges = np.linspace(0.0, r_max, cells + 1)
    return solve_radial(_model(), chi_radial_masses(edges, D, R0), edges, times, **kw)


def _coarsen(mass):
    return mass[0::2] + mass[1::2]


def test_grid_refinement_order_is_about_two():
    """L1 distance between successive refinements (cell masses) falls like h^2 (asserted slope >= 1.7)."""
    cells = [200, 400, 800, 1600, 3200]
    sols = [_solve(m, [0.3]).mass[-1] for m in cells]
    errs = [np.abs(a - _coarsen(b)).sum() for a, b in itertools.pairwise(sols)]
    h = 4.0 / np.array(cells[:-1])  # measured with the MC limiter: 1.70, 1.83, 1.95 between levels
    slope, _ = loglog_slope(h, errs)
    assert slope >= 1.7, (slope, errs)
    assert errs[-1] < 1e-3


def test_mass_is_conserved_and_density_stays_non_negative():
    sol = _solve(200, np.linspace(0, 2.0, 9))
    assert np.abs(sol.mass.sum(1) - 1.0).max() < 1e-12
    assert sol.mass.min() >= -1e-14 * sol.mass.max()  # zero up to rounding of 1e-30-sized tails
    assert sol.density.max() > 1.0  # the law concentrates: not a trivial solution


def test_risk_decreases_along_the_gradient_flow():
    sol = _solve(400, np.linspace(0, 2.0, 41))
    assert np.all(np.diff(sol.risk) <= 1e-10)
    assert sol.risk[-1] < 0.75 * sol.risk[0]


def test_angle_moments_match_uniform_directions():
    """lam_k k! = E[u^k] for u the cosine between a fixed and a uniform direction in R^d."""
    d = 7
    model = _model(d=d, K=6)
    u = torch.randn(400_000, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u = (u[:, 0] / u.norm(dim=1)).numpy()
    fact = np.array([1, 1, 2, 6, 24, 120, 720])
    for k in range(7):
        assert model.lam[k] * fact[k] == pytest.approx((u**k).mean(), abs=4e-3 / (1 + k))


@pytest.mark.slow
def test_pde_matches_many_particles():
    """The PDE law of |w| and risk agree with a wide particle system (same kernel, exact gradient)."""
    from wgflow.tasks.gaussians import IsotropicGaussiansRisk
    from wgflow.transport import wasserstein

    T, eta, n = 0.3, 0.005, 512
    sol = _solve(400, [0.0, T])
    unit = wg.measures.PiecewiseLinear(D)
    theta = unit.init(n, generator=torch.Generator().manual_seed(3), dtype=torch.float64, w_scale=R0)
    theta[:, 0] = 1.0
    obj = IsotropicGaussiansRisk(IsotropicGaussians(D, 0.8), 8)
    traj = wg.train(
        wg.ParticleMeasure(theta, unit),
        obj,
        wg.FlowConfig(eta=eta, steps=int(T / eta), eta_output=0.0, risk_every=1000),
    )
    r = np.linalg.norm(traj.snapshots[-1][:, 1:], axis=1)
    x, a = sol.points(1, sub=8)
    w2 = wasserstein(r, x, None, a, method="1d")
    assert w2 < 0.012  # the law has moved by ~0.3 in r; sampling error ~0.005, Euler error ~0.0013
    assert traj.risk[-1] == pytest.approx(sol.risk[-1], abs=0.01)


def test_solver_rejects_bad_input():
    edges = np.linspace(0, 4, 11)
    with pytest.raises(ValueError, match="cfl"):
        solve_radial(_model(), np.full(10, 0.1), edges, [0.1], cfl=0.9)
    with pytest.raises(ValueError, match="limiter"):
        solve_radial(_model(), np.full(10, 0.1), edges, [0.1], limiter="superbee")
    with pytest.raises(ValueError, match="uniform"):
        solve_radial(_model(), np.full(10, 0.1), edges**2, [0.1])


def test_potential_is_the_direction_average_of_the_particles_first_variation():
    """psi(r; law of the radii) = the mean over uniform directions u of V((1, r u); mu) for the particle
    objective (its series, averaged over the cosine, keeps the even orders with the moments lam_k k!)."""
    d, K = 6, 6
    model = _model(d=d, K=K)
    obj = wg.tasks.IsotropicGaussiansRisk(model.task, K)
    g = torch.Generator().manual_seed(1)
    theta = model.unit.init(50, generator=g, dtype=torch.float64, w_scale=1.0)
    theta[:, 0] = 1.0
    mu = wg.ParticleMeasure(theta, model.unit)
    u = torch.randn(200_000, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    radii = theta[:, 1:].norm(dim=1).numpy()
    for r in (0.3, 1.0, 2.0):
        V = obj.V(torch.cat([torch.ones(len(u), 1, dtype=torch.float64), r * u], 1), mu).numpy()
        se = V.std() / np.sqrt(V.size)
        assert model.potential(np.array([r]), radii)[0] == pytest.approx(V.mean(), abs=5 * se + 1e-12)


def test_gibbs_law_is_the_chi_law_when_the_ridge_dominates():
    """With psi / temperature negligible, r^{d-1} exp(-wd r^2 / (2 T)) is the law of |w|, w ~ N(0, T/wd I_d)."""
    edges = np.linspace(0.0, 4.0, 4001)
    T = 1e6
    wd = T * D / R0**2  # N(0, R0^2 / D I_D)
    radii = np.array([0.5, 1.0, 1.5])
    m = wg.limits.gibbs_radial_masses(_model(), radii, edges, T, wd)
    assert m.sum() == pytest.approx(1.0)
    assert np.abs(m - chi_radial_masses(edges, D, R0)).sum() < 1e-4
    # at a low temperature the potential matters: the law moves away from the chi law
    cold = wg.limits.gibbs_radial_masses(_model(), radii, edges, 0.02, 0.5)
    assert np.abs(cold - chi_radial_masses(edges, D, R0)).sum() > 0.5
    with pytest.raises(ValueError, match="temperature"):
        wg.limits.gibbs_radial_masses(_model(), radii, edges, 0.0)
