"""Units and measures: the feature map of one hidden unit, and a network as the empirical measure of its units.

:mod:`.units` (unit families, :math:`\\phi(x;\\theta)` and its gradients), :mod:`.measure`
(:class:`ParticleMeasure`, :math:`\\mu = \\frac1n\\sum_i \\delta_{\\theta_i}`) and :mod:`.linearized`
(the tangent model of a network, trainable by the same flow).
"""

from .linearized import Tangent, symmetric_init, tangent_theta
from .measure import Ensemble, ParticleMeasure
from .units import UNITS, PiecewiseLinear, RBFSphere, ReLU, Sigmoid, Tanh, Unit, make_unit

__all__ = [
    "Unit",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "RBFSphere",
    "PiecewiseLinear",
    "make_unit",
    "UNITS",
    "ParticleMeasure",
    "Ensemble",
    "Tangent",
    "tangent_theta",
    "symmetric_init",
]
