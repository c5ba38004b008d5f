"""``rve-fluctuations``: Fluctuations of f_n across seeds: n^{-1/2} at early times, self-healing at long times.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import RVEFluctuations, RVEFluctuationsConfig

__all__ = ["RVEFluctuations", "RVEFluctuationsConfig"]
