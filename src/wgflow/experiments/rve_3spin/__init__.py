"""``rve-3spin``: 3-spin target: test loss ~ n^{-1} with SGD, quench and gradient descent.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run; :mod:`.claims` its claims; :mod:`.figures` its figures; :mod:`.train` the flows it trains.
"""

from .experiment import RVE3Spin, RVE3SpinConfig

__all__ = ["RVE3Spin", "RVE3SpinConfig"]
