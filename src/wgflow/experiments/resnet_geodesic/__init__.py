"""``resnet-geodesic``: ResNets with weight decay learn the Wasserstein geodesic; plain networks do not.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run; :mod:`.claims` its claims; :mod:`.figures` its figures.
"""

from .experiment import ResNetGeodesic, ResNetGeodesicConfig

__all__ = ["ResNetGeodesic", "ResNetGeodesicConfig"]
