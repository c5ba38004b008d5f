"""The store's atomic array and byte files: :mod:`wgflow._io`, which the core also uses.

The implementation lives in the neutral private module so that the core
(:mod:`wgflow.trajectory`) writes files atomically without importing the store.
"""

from .._io import atomic_save_array, atomic_write_bytes, load_array

__all__ = ["atomic_write_bytes", "atomic_save_array", "load_array"]
