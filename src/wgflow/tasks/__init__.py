"""Targets and data sets: teachers, synthetic tasks, small shipped data sets.

* :mod:`~wgflow.tasks.teacher` — ReLU teachers, Gaussian and spherical input samplers.
* :mod:`~wgflow.tasks.three_spin` — the 3-spin target of Rotskoff & Vanden-Eijnden.
* :mod:`~wgflow.tasks.gaussians` — isotropic Gaussians of Mei, Montanari & Nguyen (exact risk).
* further modules (clusters, moons, digits) are imported by name.
"""

from .gaussians import IsotropicGaussians, IsotropicGaussiansRisk
from .teacher import ReLUTeacher, gaussian_sampler, sphere_sampler
from .three_spin import ThreeSpin
