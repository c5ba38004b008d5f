"""Targets and data sets: teachers, synthetic tasks, small shipped data sets.

Submodules are imported lazily by name (``wgflow.tasks.teacher``, ...); the
common ones are re-exported here.
"""

from .teacher import ReLUTeacher, gaussian_sampler, sphere_sampler  # noqa: F401
