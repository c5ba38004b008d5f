"""``mmn-gaussians``: SGD on isotropic Gaussians converges to the 1-D radial PDE.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run;
:mod:`.train` its particle runs; :mod:`.claims` its claims; :mod:`.figures` its figures.
"""

from .experiment import MMNGaussians, MMNGaussiansConfig

__all__ = ["MMNGaussians", "MMNGaussiansConfig"]
