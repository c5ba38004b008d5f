"""``mf-langevin``: Mean-field Langevin dynamics: free-energy descent, proximal Gibbs fixed point, annealing.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import MFLangevin, MFLangevinConfig

__all__ = ["MFLangevin", "MFLangevinConfig"]
