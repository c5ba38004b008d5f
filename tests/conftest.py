"""Fixtures shared by every test folder."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """The CLI's cache of experiment descriptions (wgflow.cli.described) in a folder of the test session,
    not the user's ~/.cache; subprocesses inherit it through the environment."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WGFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("wgflow-cache")))
    yield
    mp.undo()


@pytest.fixture
def one_torch_thread():
    """Many small matmuls: one torch thread avoids oversubscribing shared CI cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def assert_no_claim_passes(name, overrides=None, *, preset="quick", seed=0, tmp_path=None):
    """Run ``name`` as its negative control (training switched off) and assert that no claim passes.

    Returns the result so a test can also check what the control measured.
    """
    import wgflow as wg

    res = wg.run_experiment(
        name, preset, overrides or {}, seed=seed, untrained=True, out_dir=None if tmp_path is None else str(tmp_path)
    )
    passing = [f"{c.name} (measured {c.measured}, expected {c.expected})" for c in res.claims if c.passed]
    assert res.claims, f"{name}: the negative control recorded no claims"
    assert not passing, f"{name}: claims pass with training switched off: {'; '.join(passing)}"
    return res
