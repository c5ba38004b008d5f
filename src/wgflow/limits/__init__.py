r"""Mean-field limits computed independently of the particles they are compared with.

* :mod:`~wgflow.limits.radial` — the 1-D PDE d_t rho = d_r(rho d_r psi) for the law of r = |w| in the
  isotropic-Gaussians task (Mei, Montanari & Nguyen 2018), finite volumes, second order.
* :mod:`~wgflow.limits.reference` — large-n reference flows with nested initial particles and the
  propagation-of-chaos distances (Chizat & Bach 2018, Thm 2.6).
* :mod:`~wgflow.limits.langevin` — mean-field Langevin: free energy with a Kozachenko-Leonenko
  entropy, proximal Gibbs density on a grid (Chizat 2022; Nitanda, Wu & Suzuki 2022).
"""

from .langevin import FreeEnergy, GridDensity, free_energy, gibbs_density, knn_entropy
from .radial import LIMITERS, RadialModel, RadialSolution, chi_radial_masses, gibbs_radial_masses, solve_radial
from .reference import chaos_distances, nested_init

__all__ = [
    "FreeEnergy",
    "GridDensity",
    "LIMITERS",
    "RadialModel",
    "RadialSolution",
    "chaos_distances",
    "chi_radial_masses",
    "free_energy",
    "gibbs_density",
    "gibbs_radial_masses",
    "knn_entropy",
    "nested_init",
    "solve_radial",
]
