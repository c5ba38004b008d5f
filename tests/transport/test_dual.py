"""Dual (c-transform) lower bounds: never above W_p^p, near-tight with good potentials, safe against round-off."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import wgflow.transport as wt
from wgflow.transport.dual import c_transform, dual_lower, subsample_potential

coord = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problem(draw):
    k, n, m = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    x = draw(arrays(np.float64, (n, k), elements=coord))
    y = draw(arrays(np.float64, (m, k), elements=coord))
    a = draw(arrays(np.float64, (n,), elements=st.floats(0.05, 1.0)))
    b = draw(arrays(np.float64, (m,), elements=st.floats(0.05, 1.0)))
    g = draw(arrays(np.float64, (m,), elements=st.floats(-200, 200)))  # any potential at all
    return x, y, a / a.sum(), b / b.sum(), g


def T(*arrays):
    return [torch.from_numpy(np.ascontiguousarray(v)) for v in arrays]


@settings(max_examples=80, deadline=None)
@given(problem(), st.sampled_from([1.0, 1.5, 2.0, 3.0]))
def test_dual_bound_of_any_potential_is_below_exact(prob, p):
    x, y, a, b, g = prob
    exact = wt.wasserstein(x, y, a, b, p=p, method="exact")
    xt, yt, at, bt, gt = T(x, y, a, b, g)
    lower = dual_lower(xt, yt, at, bt, p, gt, torch.arange(len(y)), block_bytes=64)  # several blocks
    assert lower <= exact * (1 + 1e-12) + 1e-12
    ent, sub = subsample_potential(xt, yt, at, bt, p, sample=5, seed=0)  # entropic potential on a subsample
    assert dual_lower(xt, yt, at, bt, p, ent, sub) <= exact * (1 + 1e-12) + 1e-12


def test_c_transform_is_admissible_and_attained(rng):
    x, y, g = T(rng.normal(size=(30, 4)), rng.normal(size=(20, 4)) + 1, rng.normal(size=20))
    for p in [1.0, 2.0, 3.0]:
        C = torch.cdist(x, y) ** p  # (30, 20), direct differences
        f = c_transform(g, x, y, p, block_bytes=200)
        slack = C - f[:, None] - g[None, :]
        assert float(slack.min()) >= 0  # f (+) g <= C: the pair is admissible
        # and f is the largest such up to the round-off margin: (k + 4) u |x - y|^2 for p >= 2, its
        # square root for p = 1 (t -> sqrt(t) is only 1/2-Hölder at 0)
        assert float(slack.min(1).values.max()) < (1e-6 if p < 2 else 1e-9)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_entropic_potentials_give_a_near_tight_bound(rng, p):
    x, y = rng.normal(size=(80, 3)), rng.normal(size=(60, 3)) * 0.8 + 0.7
    a, b = rng.random(80) + 0.1, rng.random(60) + 0.1
    a, b = a / a.sum(), b / b.sum()
    exact = wt.wasserstein(x, y, a, b, p=p, method="exact")
    xt, yt, at, bt = T(x, y, a, b)
    g, sub = subsample_potential(xt, yt, at, bt, p, sample=100, seed=0, extra=50)  # the whole clouds
    lower = dual_lower(xt, yt, at, bt, p, g, sub)
    assert exact * 0.98 <= lower <= exact * (1 + 1e-12)
    g0, _ = subsample_potential(xt, yt, at, bt, p, sample=100, seed=0, extra=0)
    assert dual_lower(xt, yt, at, bt, p, g0, sub) < lower  # better potentials, a tighter bound


def test_round_off_never_certifies_a_positive_distance_between_equal_clouds(rng):
    # |x|^2 + |y|^2 - 2 x.y cancels ~10 digits at |x| ~ 1e5: without the margin the bound drifts above 0
    x = 1e5 + rng.normal(size=(50, 5))
    xt, at = T(x, np.full(50, 0.02))
    for p in [1.0, 2.0, 3.0]:
        assert dual_lower(xt, xt, at, at, p, torch.zeros(50, dtype=torch.float64), torch.arange(50)) == 0.0


@pytest.mark.slow
def test_bracket_on_independent_clouds_is_tight_with_the_dual_bound():
    # two unrelated Gaussian clouds in d = 100: the moment bounds stay near 5.6 while W2 ~ 13.8
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 100, generator=g, dtype=torch.float64).numpy()
    y = (torch.randn(2000, 100, generator=g, dtype=torch.float64) * 1.2 + 0.5).numpy()
    exact = wt.wasserstein(x, y, method="exact")
    _, info = wt.wasserstein(x, y, method="bracket", return_info=True, max_exact=0)  # the bracket itself
    assert info.bounds["lower"]["Gelbrich"] < 0.45 * exact  # what the bracket had before
    assert info.lower == info.bounds["lower"]["dual (c-transform)"]
    assert 0.99 * exact <= info.lower <= exact <= info.upper * (1 + 1e-12)
    assert info.width < 0.05
