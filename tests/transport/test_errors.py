"""Bad input fails early with one clear line naming the argument."""

import numpy as np
import pytest
import torch

import wgflow.transport as wt

X = np.zeros((4, 2))
Y = np.ones((5, 2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=np.zeros((4, 3)), y=Y), "same dimension"),
        (dict(x=np.zeros((2, 2, 2)), y=Y), r"x must have shape \(n, k\)"),
        (dict(x=np.zeros((0, 2)), y=Y), "x is empty"),
        (dict(x=X, y=Y, a=[1, -1, 1, 1]), "a has negative entries"),
        (dict(x=X, y=Y, b=np.zeros(5)), "b must have a positive finite sum"),
        (dict(x=X, y=Y, a=[1, 1, 1]), r"a must have shape \(4,\)"),
        (dict(x=X, y=Y, a=[1, np.nan, 1, 1]), "a contains NaN"),
        (dict(x=np.array([[0.0, np.nan]] * 4), y=Y), "x contains NaN or Inf"),
        (dict(x=X, y=torch.full((5, 2), float("inf"))), "y contains NaN or Inf"),
        (dict(x=X, y=Y, method="emd"), "method must be one of"),
        (dict(x=X, y=Y, method="1d"), "one-dimensional"),
        (dict(x=X, y=Y, p=0.5), "p must be"),
        (dict(x=X, y=Y, method="sliced", n_projections=0), "n_projections"),
        (dict(x=X, y=Y, method="sinkhorn", blur=0.0), "blur"),
        (dict(x=X, y=Y, method="sinkhorn", scaling=1.5), "scaling"),
        (dict(x=[["a", "b"]], y=Y), "x must be an array of numbers"),
    ],
)
def test_wasserstein_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wt.wasserstein(**kwargs)


def test_other_entry_points_reject_bad_input():
    with pytest.raises(ValueError, match="equal size"):
        wt.ot_assignment(X, Y)
    with pytest.raises(ValueError, match="'exact' or 'sinkhorn'"):
        wt.barycentric_map(X, Y, method="sliced")
    with pytest.raises(ValueError, match="equal shapes"):
        wt.tracked_w2(X, Y)
    with pytest.raises(ValueError, match="weights has negative"):
        wt.tracked_w2(X, X, weights=[1, 1, -1, 1])
    with pytest.raises(ValueError, match=r"S1 must have shape \(2, 2\)"):
        wt.gaussian_w2(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="S2 must be positive semi-definite"):
        wt.gaussian_w2(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2))
    with pytest.raises(ValueError, match="S1 must be symmetric"):
        wt.gaussian_w2(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="m2 contains NaN"):
        wt.gaussian_w2(np.zeros(2), np.eye(2), [np.nan, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="pair"):
        wt.w2_from_start(np.zeros((3, 4, 2)))
