"""The fake experiment and its fixtures (:mod:`tests.fake_experiment`) for every test of this directory."""

from tests.fake_experiment import calls, fake_experiment, store, wgflow_cli  # noqa: F401
