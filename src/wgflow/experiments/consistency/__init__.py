"""``consistency``: Consistency between finite and infinite width: W2 to the mean-field limit ~ n^{-1/2}.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import Consistency, ConsistencyConfig

__all__ = ["Consistency", "ConsistencyConfig"]
