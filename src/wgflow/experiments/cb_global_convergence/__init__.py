"""``cb-global-convergence``: Global convergence of over-parameterised ReLU networks (exact population risk).

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import GlobalConvergence, GlobalConvergenceConfig

__all__ = ["GlobalConvergence", "GlobalConvergenceConfig"]
