"""The four solvers of wgflow.wasserstein against each other, POT and known values."""

import itertools
import warnings

import numpy as np
import ot
import pytest
import torch

import wgflow.transport as wt
from wgflow.transport.entropic import softmin
from wgflow.transport.sinkhorn import sinkhorn_divergence_pp


def _weights(rng, n):
    w = rng.random(n) + 0.05
    return w / w.sum()


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_1d_equals_exact_on_random_weighted_inputs(rng, p):
    for n, m in [(1, 1), (7, 7), (13, 29), (40, 3)]:
        x, y = rng.normal(size=n), rng.normal(size=m) * 2 + 0.3
        a, b = _weights(rng, n), _weights(rng, m)
        w1 = wt.wasserstein(x, y, a, b, p=p, method="1d")
        we = wt.wasserstein(x, y, a, b, p=p, method="exact")
        ref = ot.wasserstein_1d(x, y, a, b, p=p) ** (1 / p)  # POT's independent implementation
        assert w1 == pytest.approx(we, rel=1e-10, abs=1e-12)
        assert w1 == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_1d_uniform_fast_path_equals_weighted_path(rng):
    x, y = rng.normal(size=50), rng.normal(size=50) + 1
    u = np.full(50, 1 / 50)
    assert wt.wasserstein(x, y, method="1d") == pytest.approx(wt.wasserstein(x, y, u, u, method="1d"), rel=1e-12)


def test_exact_translation_is_the_shift_length(rng):
    x = rng.normal(size=(60, 4))
    v = np.array([0.3, -1.0, 2.0, 0.5])
    assert wt.wasserstein(x, x + v, method="exact") == pytest.approx(np.linalg.norm(v), rel=1e-10)


def test_sliced_is_a_lower_bound_of_exact(rng):
    for k in [2, 5, 20]:
        x, y = rng.normal(size=(80, k)), rng.normal(size=(70, k)) * 1.5 + 0.5
        a, b = _weights(rng, 80), _weights(rng, 70)
        we = wt.wasserstein(x, y, a, b, method="exact")
        for seed in range(3):
            ws = wt.wasserstein(x, y, a, b, method="sliced", n_projections=50, seed=seed)
            assert 0 < ws <= we * (1 + 1e-12)


def test_sliced_translation_matches_its_closed_form(rng):
    # SW_2^2 of a translation by v is E_theta (theta . v)^2 = |v|^2 / k; blocks of k orthogonal
    # directions make the estimate exact, and it is unbiased for any number of directions
    k = 6
    x = rng.normal(size=(200, k))
    v = rng.normal(size=k)
    exact = np.linalg.norm(v) / np.sqrt(k)
    assert wt.wasserstein(x, x + v, method="sliced", n_projections=3 * k, seed=1) == pytest.approx(exact, rel=1e-10)
    partial = [wt.wasserstein(x, x + v, method="sliced", n_projections=2, seed=s) ** 2 for s in range(400)]
    assert np.mean(partial) == pytest.approx(exact**2, rel=0.1)


def test_random_directions_are_orthonormal_blocks_on_the_sphere():
    from wgflow.transport.sliced import random_directions

    th = random_directions(5, 12, seed=3, dtype=torch.float64)
    assert th.shape == (5, 12) and torch.allclose(th.norm(dim=0), torch.ones(12, dtype=torch.float64))
    assert torch.allclose(th[:, :5].T @ th[:, :5], torch.eye(5, dtype=torch.float64), atol=1e-12)
    assert torch.equal(th, random_directions(5, 12, seed=3, dtype=torch.float64))


def test_sliced_is_reproducible_and_block_independent(rng):
    x, y = rng.normal(size=(300, 8)), rng.normal(size=(200, 8))
    w1 = wt.wasserstein(x, y, method="sliced", n_projections=37, seed=5)
    w2 = wt.wasserstein(x, y, method="sliced", n_projections=37, seed=5, block_bytes=1)  # one projection per block
    w3 = wt.wasserstein(x, y, method="sliced", n_projections=37, seed=6)
    assert w1 == pytest.approx(w2, rel=1e-12)
    assert w1 != w3


@pytest.mark.slow
def test_sinkhorn_converges_to_exact_as_blur_vanishes(rng):
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(50, 2)) * 0.7 + 1.0
    a, b = _weights(rng, 40), _weights(rng, 50)
    we = wt.wasserstein(x, y, a, b, method="exact")
    # converged at each blur (tol): the error is the entropic bias alone, which vanishes with blur
    errs = [
        abs(wt.wasserstein(x, y, a, b, method="sinkhorn", blur=blur, tol=1e-8, max_iter=10_000) - we)
        for blur in [0.5, 0.2, 0.1, 0.05]
    ]
    assert all(e2 < e1 for e1, e2 in itertools.pairwise(errs)), errs
    assert errs[0] > 5e-3 * we and errs[-1] < 1e-3 * we


def test_entropic_cost_matches_pot_reference(rng):
    # OT_eps (no debiasing) = <pi, C> + eps KL(pi | a x b) with POT's log-domain Sinkhorn plan
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(25, 3)) + 0.5
    a, b = _weights(rng, 30), _weights(rng, 25)
    blur = 0.7
    eps = blur**2
    C = ot.dist(x, y)
    pi = ot.sinkhorn(a, b, C, reg=eps, method="sinkhorn_log", stopThr=1e-13, numItermax=100_000)
    ref = (pi * C).sum() + eps * (pi * np.log(pi / np.outer(a, b))).sum()
    ours, _ = sinkhorn_divergence_pp(
        torch.from_numpy(x),
        torch.from_numpy(y),
        torch.from_numpy(a),
        torch.from_numpy(b),
        blur=blur,
        tol=1e-11,
        debias=False,
    )
    assert float(ours) == pytest.approx(ref, rel=1e-8)


def test_sinkhorn_is_block_independent(rng):
    x, y = rng.normal(size=(90, 3)), rng.normal(size=(70, 3))
    full = wt.wasserstein(x, y, method="sinkhorn", blur=0.1)
    tiny = wt.wasserstein(x, y, method="sinkhorn", blur=0.1, block_bytes=1)  # one row per block
    assert full == pytest.approx(tiny, rel=1e-10)


def test_softmin_gradcheck(rng):
    x = torch.tensor(rng.normal(size=(6, 3)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    h = torch.tensor(rng.normal(size=5), requires_grad=True)
    for p in [2.0, 1.5, 3.0]:
        assert torch.autograd.gradcheck(lambda x, y, h, p=p: softmin(0.3, x, y, h, p, 64), (x, y, h))


def test_sinkhorn_gradient_matches_finite_differences(rng):
    # envelope theorem: at convergence the last extrapolation carries the exact gradient of S_eps
    x = torch.tensor(rng.normal(size=(12, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(10, 2)) + 0.5)

    def S(z):
        return wt.wasserstein(z, y, method="sinkhorn", blur=0.3, tol=1e-11) ** 2

    S(x).backward()
    h = 1e-5
    with torch.no_grad():
        for _ in range(3):  # directional derivatives along random directions
            v = torch.tensor(rng.normal(size=x.shape))
            fd = (S(x + h * v) - S(x - h * v)) / (2 * h)
            assert float((x.grad * v).sum()) == pytest.approx(float(fd), rel=1e-5)


@pytest.mark.parametrize("method", ["exact", "sliced", "1d"])
def test_gradcheck_exact_sliced_1d(rng, method):
    k = 1 if method == "1d" else 3
    x = torch.tensor(rng.normal(size=(7, k)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(5, k)) + 1.0)
    b = torch.tensor(_weights(rng, 5))
    assert torch.autograd.gradcheck(lambda z: wt.wasserstein(z, y, None, b, method=method, n_projections=5), (x,))


def test_return_types_follow_the_input(rng):
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    for method in ["exact", "sliced", "sinkhorn"]:
        assert isinstance(wt.wasserstein(x, y, method=method), float)
        v = wt.wasserstein(torch.from_numpy(x), torch.from_numpy(y), method=method)
        assert isinstance(v, torch.Tensor) and v.ndim == 0


def test_auto_says_what_it_did(rng):
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    v, info = wt.wasserstein(x, y, return_info=True)
    assert info.method == "exact" and info.relation == "exact"
    assert v == wt.wasserstein(x, y, method="exact")
    _, info = wt.wasserstein(x[:, :1], y[:, :1], return_info=True)
    assert info.method == "1d"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # beyond max_exact "auto" brackets W_p: nothing to warn about
        v, info = wt.wasserstein(x, y, max_exact=30, return_info=True)
    assert info.method == "bracket" and info.relation == "bracket"
    exact = wt.wasserstein(x, y, method="exact")
    assert info.lower <= exact * (1 + 1e-9) and exact <= info.upper * (1 + 1e-9)
    assert v == pytest.approx(info.upper, rel=1e-12)  # the estimate is the best coupling's cost
    _, info = wt.wasserstein(x, y, method="sliced", return_info=True)
    assert info.relation == "lower bound" and info.lower == pytest.approx(float(info.value)) and info.upper == np.inf


def test_threaded_row_sort_equals_torch_sort():
    from wgflow.transport.sliced import sort_rows

    u = torch.randn(5, 2**18 + 3, dtype=torch.float64)  # above the size where rows go to threads
    assert torch.equal(sort_rows(u), torch.sort(u, dim=1).values)
    before = u.clone()
    sort_rows(u.T.contiguous().T)  # a non-contiguous view is sorted into a copy, never in place
    assert torch.equal(u, before)


def test_default_projections_shrink_for_large_clouds():
    from wgflow.transport.distances import default_projections

    assert default_projections(1000, 1000) == 64
    assert default_projections(2 * 10**5, 2 * 10**5) == 64
    assert default_projections(5 * 10**5, 5 * 10**5) == 32
    assert default_projections(10**6, 10**6) == 16


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0])
def test_exact_gradient_is_finite_when_a_point_is_matched_to_itself(p):
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    wt.wasserstein(x, y, method="exact", p=p).backward()
    assert torch.isfinite(x.grad).all()
    assert torch.allclose(x.grad[1], torch.tensor([0.0, -(0.5 ** (1 / p))], dtype=torch.float64))
