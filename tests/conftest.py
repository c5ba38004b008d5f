"""Fixtures shared by every test folder."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Many small matmuls: one torch thread avoids oversubscribing shared CI cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
