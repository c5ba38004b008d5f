"""``resnet-geodesic``: ResNets with weight decay learn the Wasserstein geodesic; plain networks do not.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run; :mod:`.train` the
training and the transport-matched baselines; :mod:`.claims` and :mod:`.comparisons` its claims; :mod:`.figures` its
figures.
"""

from .experiment import ResNetGeodesic, ResNetGeodesicConfig

__all__ = ["ResNetGeodesic", "ResNetGeodesicConfig"]
