"""``lazy-vs-active``: Lazy (tangent) vs active training as the output scale tau varies.

Importing the package registers the experiment. :mod:`.experiment` holds the config and the run.
"""

from .experiment import LazyVsActive, LazyVsActiveConfig

__all__ = ["LazyVsActive", "LazyVsActiveConfig"]
