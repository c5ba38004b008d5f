"""The clusters data set of Chizat & Bach (COLT 2020): geometry, labels, spurious coordinates."""

import numpy as np
import pytest
import torch
from scipy import stats

from wgflow.tasks.clusters import ClustersTask

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # one torch thread on shared CI cores


@pytest.fixture
def sample():
    g = torch.Generator().manual_seed(0)
    task = ClustersTask.random(8, k=3, generator=g)
    x, y, j = task.sample(20000, generator=g, return_cluster=True)
    return task, x, y, j


def test_grid_spacing_and_bias_coordinate(sample):
    task, x, _y, j = sample
    delta = 1 / (3 * 3 - 1)
    assert task.spacing == pytest.approx(delta)
    assert torch.all(x[:, 0] == 1.0)
    # centres on a grid of step 3 Delta, clusters inside [-1/2, 1/2]^2 with gaps of width Delta
    ticks = np.unique(np.round(task.centres.numpy(), 12))
    np.testing.assert_allclose(np.diff(ticks), 3 * delta)
    assert ticks.min() - delta == pytest.approx(-0.5) and ticks.max() + delta == pytest.approx(0.5)
    r = (x[:, 1:3] - task.centres[j]).norm(dim=1)
    assert float(r.max()) <= delta + 1e-12
    # R ~ U[0, Delta]: the radius (not the area) is uniform
    assert stats.kstest(r.numpy() / delta, "uniform").pvalue > 1e-3


def test_labels_constant_per_cluster_and_balanced(sample):
    task, _x, y, j = sample
    for c in range(9):
        lab = y[j == c]
        assert lab.numel() > 0 and torch.all(lab == task.labels[c])
    assert int((task.labels < 0).sum()) == 4 and int((task.labels > 0).sum()) == 5
    # clusters are equally likely, so about 4/9 of the points are negative
    assert float((y < 0).double().mean()) == pytest.approx(4 / 9, abs=0.02)


def test_spurious_coordinates_uniform_and_independent(sample):
    _task, x, y, _j = sample
    s = x[:, 3:].numpy()  # (N, d - 3)
    for col in s.T:
        assert stats.kstest(col + 0.5, "uniform").pvalue > 1e-3
    # independent of the label, of the informative coordinates and of each other
    feats = np.column_stack([s, x[:, 1:3].numpy(), y.numpy()])
    corr = np.corrcoef(feats.T)  # (d, d): spurious block first
    k = s.shape[1]
    assert np.abs(corr[:k] - np.eye(k, corr.shape[0])).max() < 5 / np.sqrt(len(s))
    for c in range(2):
        a, b = s[y.numpy() > 0, c], s[y.numpy() < 0, c]
        assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_labels_differ_between_draws_and_bad_input():
    labs = {tuple(ClustersTask.random(5, generator=torch.Generator().manual_seed(s)).labels.tolist()) for s in range(6)}
    assert len(labs) > 1
    with pytest.raises(ValueError):
        ClustersTask.random(2)
    x, X1, _X2 = ClustersTask.random(6).grid(11)
    assert x.shape == (121, 6) and torch.all(x[:, 3:] == 0) and X1.shape == (11, 11)
