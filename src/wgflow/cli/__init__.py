"""The ``wgflow`` console script (:func:`main`): one module per group of subcommands.

:mod:`.app` (parser and dispatch), :mod:`.args` (shared options), :mod:`.browse` (``list``, ``show``,
``runs``, ``report``), :mod:`.run` (``run``, ``reproduce``), :mod:`.sweep` (``sweep``),
:mod:`.progress` and :mod:`.show` (what they print), :mod:`.described` (experiments described without
importing them, cached), :mod:`.launch` (the ``torchrun`` entry point).
"""

from .app import main

__all__ = ["main"]
