r"""Ensembles: E independent particle systems of one unit family trained as one tensor program.

An :class:`~wgflow.measures.measure.Ensemble` holds theta of shape (E, n, p): member e is the measure
mu^e = (1/n) sum_i delta_{theta^e_i}. The members do not interact; they differ by their
initialisation, their target or data set and their random stream. An
:class:`~wgflow.objectives.EnsembleRisk` holds the E member objectives (of one type) and evaluates
them with the type's batched implementation (every objective's one implementation takes
(E, n, p); a single flow is the ensemble of one), so one Python step advances all members:

    h^e_b = alpha sum_i a_i phi(x^e_b; theta^e_i),   G^e_i = sum_b r^e_b grad_theta phi(x^e_b; theta^e_i),
    r^e_b = l'(h^e_b, y^e_b) / (alpha B)

Member e draws its samples, minibatch indices and noise from its own generator in the same
order as a single :func:`wgflow.train` run would: an ensemble member reproduces the single flow
with that generator up to floating-point rounding (tested).
"""

from ..measures.measure import Ensemble
from ..objectives.risks import EnsembleRisk

__all__ = ["Ensemble", "EnsembleRisk"]
