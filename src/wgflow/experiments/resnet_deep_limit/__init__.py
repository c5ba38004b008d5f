"""``resnet-deep-limit``: Deep-layer limit of trained ResNets: minimisers converge to a neural-ODE minimiser.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run; :mod:`.claims` its claims; :mod:`.figures` its figures; :mod:`.train` its training stages.
"""

from .experiment import ResNetDeepLimit, ResNetDeepLimitConfig

__all__ = ["ResNetDeepLimit", "ResNetDeepLimitConfig"]
