"""``cb-implicit-bias``: Implicit bias: F1 max-margin (both layers) vs kernel max-margin (output layer).

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run; :mod:`.figures` its figures.
"""

from .experiment import ImplicitBias, ImplicitBiasConfig

__all__ = ["ImplicitBias", "ImplicitBiasConfig"]
