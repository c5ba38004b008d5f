"""Exact re-solves on groups of pairs (refine.py): couplings stay couplings, their cost never rises, and
windows of nearby ranks repair the monotone coupling of float32 Brenier pairs."""

import numpy as np
import pytest
import torch

import wgflow.transport as wt
from wgflow.transport.couplings import Coupling, sliced_couplings
from wgflow.transport.refine import local_resolve, resolve_groups, window_resolve


def _cost(x, y, c, p):
    d = np.linalg.norm(x[c.rows] - y[c.cols], axis=1)
    return float(c.weights @ d**p)


def _marginals(c, n, m):
    return np.bincount(c.rows, c.weights, minlength=n), np.bincount(c.cols, c.weights, minlength=m)


def _problem(seed):
    """Random clouds, weights (uniform or not, n = m or not) and a monotone coupling along a random direction."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 6))
    uniform = seed % 2 == 0
    n = int(rng.integers(20, 300))
    m = n if uniform else int(rng.integers(20, 300))
    x, y = rng.normal(size=(n, d)), rng.standard_t(4, size=(m, d)) * 1.3 + rng.normal(size=d)
    a, b = (np.full(n, 1 / n), np.full(m, 1 / m)) if uniform else (rng.random(n) + 0.1, rng.random(m) + 0.1)
    a, b = a / a.sum(), b / b.sum()
    theta = rng.normal(size=(d, 1))
    theta /= np.linalg.norm(theta)
    c = sliced_couplings(x, y, None if uniform else a, None if uniform else b, theta)[0]
    return rng, x, y, a, b, c


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_refinements_keep_the_marginals_and_never_raise_the_cost(seed, p):
    rng, x, y, a, b, c = _problem(seed)
    exact = wt.wasserstein(x, y, a, b, p=p, method="exact") ** p
    before = _cost(x, y, c, p)
    cuts = np.sort(rng.choice(np.arange(1, len(c.rows)), size=min(9, len(c.rows) - 1), replace=False))
    groups = np.split(rng.permutation(len(c.rows)), cuts)  # an arbitrary partition of the pairs
    refined = [
        window_resolve(x, y, c, p, width=int(rng.integers(2, 40))),
        local_resolve(x, y, c, p, group=32),
        resolve_groups(x, y, c, p, groups, "groups"),
    ]
    for r in refined:
        ra, rb = _marginals(r, len(x), len(y))
        np.testing.assert_allclose(ra, a, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rb, b, rtol=0, atol=1e-12)
        assert exact * (1 - 1e-9) <= _cost(x, y, r, p) <= before * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_one_window_over_all_pairs_is_the_exact_solve(seed):
    # a window holding every pair re-solves the whole problem: the cost is W_p^p
    _, x, y, a, b, c = _problem(seed)
    p = 2.0
    whole = window_resolve(x, y, c, p, width=len(c.rows) + 1)
    assert _cost(x, y, whole, p) == pytest.approx(wt.wasserstein(x, y, a, b, p=p, method="exact") ** p, rel=1e-9)


def test_windows_undo_exchanges_of_near_tied_projections():
    # y = x + v is a translation (a Brenier map), so the monotone coupling along v is optimal; exchanging 300
    # disjoint pairs of neighbours whose projections nearly tie (the errors rounding makes) leaves a coupling that
    # the windows, cut at the widest gaps of the projections, restore to the optimal cost exactly
    rng = np.random.default_rng(3)
    n, d = 5000, 8
    x = rng.normal(size=(n, d))
    v = rng.normal(size=d)
    y = x + v
    order = np.argsort(x @ v)
    u = (x @ v)[order]  # sorted projections; those of y are u + |v|^2
    cols = order.copy()
    chosen: list[int] = []  # disjoint positions i whose gap to i + 1 is among the smallest
    for i in np.sort(np.argsort(np.diff(u))[:600]):
        if not chosen or i > chosen[-1] + 1:
            chosen.append(int(i))
    near = np.array(chosen[:300])
    cols[near], cols[near + 1] = order[near + 1], order[near]
    c = Coupling(order, cols, np.full(n, 1 / n), "sliced", (u, u + v @ v))
    assert _cost(x, y, c, 2.0) > 1.2 * v @ v
    fixed = window_resolve(x, y, c, 2.0, width=32)
    assert _cost(x, y, fixed, 2.0) == pytest.approx(v @ v, rel=1e-12)
    assert fixed.name == "sliced+windows"


def _brenier(kind, rng):
    """Float32 Brenier pairs with near-ties: x in float32, y = T(x) rounded to float32 and shuffled, and the hidden
    pairing's cost in float64 (an upper bound of W2). Rounding moves y by up to 2^-24 |y|: for the translation
    (x ~ N(0, I), 5 10^4 points in d = 10) enough neighbours swap along v; the linear maps act on x far from the
    origin (100 + 20 N(0, I), 2 10^4 points in d = 5), where the rounding is ~1e-5."""
    if kind == "translation":
        x = rng.normal(size=(50_000, 10)).astype(np.float32)
        y64 = x.astype(np.float64) + rng.normal(size=10) / np.sqrt(10)
    else:
        x = (100.0 + 20.0 * rng.normal(size=(20_000, 5))).astype(np.float32)
        if kind == "scaling":
            A = np.diag(np.linspace(0.8, 1.25, 5))
        else:  # a general symmetric positive definite map
            B = rng.normal(size=(5, 5))
            A = B @ B.T / 5 + 0.5 * np.eye(5)
        y64 = 100.0 + (x.astype(np.float64) - 100.0) @ A + rng.normal(size=5)
    y = y64.astype(np.float32)
    hidden = float(np.sqrt(((y.astype(np.float64) - x.astype(np.float64)) ** 2).sum(1).mean()))
    return x, y[rng.permutation(len(y))], hidden


@pytest.mark.parametrize("kind", ["translation", "scaling", "spd"])
def test_float32_brenier_pairs_close_the_bracket(rng, kind):
    x, y, hidden = _brenier(kind, rng)
    _, info = wt.wasserstein(x, y, return_info=True)
    assert info.relation == "bracket" and info.lower <= hidden * (1 + 1e-12)
    assert info.upper <= hidden * (1 + 1e-9)  # as good as the hidden pairing, up to its float64 round-off
    assert info.width <= 1e-6
    monotone = min(v for name, v in info.bounds["upper"].items() if not name.endswith("+windows"))
    assert monotone > (1 + 1e-4) * info.lower  # the monotone couplings alone: near-tied projections swapped
    assert info.options["coupling"].endswith("+windows")


@pytest.mark.slow
def test_float32_brenier_pairs_at_scale_close_the_bracket():
    # the report of issue #31: 10^5 points in d = 100, float32, rows shuffled (8% and 5% wide before)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100_000, 100, generator=g, dtype=torch.float64).float()
    perm = torch.randperm(100_000, generator=g)
    for T, width in [(lambda z: z + 0.1, 0.01), (lambda z: z * torch.linspace(0.8, 1.25, 100, dtype=z.dtype), 0.03)]:
        y = T(x.double()).float()
        hidden = float((y.double() - x.double()).pow(2).sum(1).mean().sqrt())
        _, info = wt.wasserstein(x, y[perm], return_info=True)
        assert info.lower <= hidden * (1 + 1e-12) and info.width <= min(width, 1e-6)
