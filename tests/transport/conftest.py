import numpy as np
import pytest
import torch


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


@pytest.fixture(autouse=True)
def _one_thread():
    """Run each transport test on one intra-op thread.

    The problems here are tiny; on a loaded 2-core machine OpenMP synchronisation makes a
    60 x 60 logsumexp take ~8 ms with two threads against ~30 us with one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
