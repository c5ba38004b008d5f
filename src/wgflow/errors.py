"""Errors of wgflow that carry a one-line, actionable message."""

__all__ = ["ConfigError", "DivergenceError"]


class ConfigError(ValueError):
    """Bad configuration: unknown key, wrong type or out-of-range value."""


class DivergenceError(FloatingPointError):
    """A run produced NaN or Inf; the message suggests a remedy."""
