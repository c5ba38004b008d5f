"""Metric axioms and invariances of W_p, as hypothesis property tests on small clouds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import wgflow.transport as wt

coord = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def cloud(draw, k=None, n=None):
    k = draw(st.integers(1, 3)) if k is None else k
    n = draw(st.integers(1, 8)) if n is None else n
    x = draw(arrays(np.float64, (n, k), elements=coord))
    w = draw(arrays(np.float64, (n,), elements=st.floats(0.05, 1.0)))
    return x, w


@st.composite
def clouds(draw, count):
    k = draw(st.integers(1, 3))
    return [draw(cloud(k=k)) for _ in range(count)]


SETTINGS = settings(max_examples=60, deadline=None)


def tol(*cs):
    """Absolute tolerance of a distance: W is a square root, so round-off eps becomes sqrt(eps) * scale."""
    return 1e-7 * (1 + max(np.abs(c[0]).max() for c in cs))


def W(u, v, method="exact", **kw):
    return wt.wasserstein(u[0], v[0], u[1], v[1], method=method, **kw)


@SETTINGS
@given(clouds(1))
def test_distance_to_itself_is_zero(cs):
    (u,) = cs
    assert W(u, u) <= tol(u)


@SETTINGS
@given(clouds(2), st.sampled_from([1.0, 2.0, 3.0]))
def test_symmetry(cs, p):
    u, v = cs
    assert W(u, v, p=p) == pytest.approx(W(v, u, p=p), rel=1e-9, abs=tol(u, v))


@SETTINGS
@given(clouds(3), st.sampled_from([1.0, 2.0]))
def test_triangle_inequality(cs, p):
    u, v, w = cs
    assert W(u, w, p=p) <= W(u, v, p=p) + W(v, w, p=p) + tol(u, v, w)


@SETTINGS
@given(clouds(2), st.randoms(use_true_random=False))
def test_permutation_of_points_changes_nothing(cs, rnd):
    u, v = cs
    perm = list(range(len(u[0])))
    rnd.shuffle(perm)
    u2 = (u[0][perm], u[1][perm])
    assert W(u2, v) == pytest.approx(W(u, v), rel=1e-9, abs=tol(u, v))
    assert W(u2, v, "sliced", n_projections=8) == pytest.approx(
        W(u, v, "sliced", n_projections=8), rel=1e-9, abs=tol(u, v)
    )


@SETTINGS
@given(clouds(2), arrays(np.float64, (3,), elements=coord))
def test_translating_both_clouds_changes_nothing(cs, shift):
    u, v = cs
    t = shift[: u[0].shape[1]]
    moved = W((u[0] + t, u[1]), (v[0] + t, v[1]))
    assert moved == pytest.approx(W(u, v), rel=1e-7, abs=1e-6 * (1 + np.abs(t).max()) + tol(u, v))


@SETTINGS
@given(clouds(2))
def test_1d_exact_and_sliced_agree_in_one_dimension(cs):
    u, v = cs
    if u[0].shape[1] != 1:
        return
    e = W(u, v)
    assert W(u, v, "1d") == pytest.approx(e, rel=1e-9, abs=tol(u, v))
    # in one dimension the only directions are +-1: sliced = exact
    assert W(u, v, "sliced", n_projections=3) == pytest.approx(e, rel=1e-9, abs=tol(u, v))


@SETTINGS
@given(clouds(2), st.floats(0.1, 10.0))
def test_scaling_both_clouds_scales_the_distance(cs, s):
    u, v = cs
    assert W((s * u[0], u[1]), (s * v[0], v[1])) == pytest.approx(s * W(u, v), rel=1e-7, abs=s * tol(u, v))
