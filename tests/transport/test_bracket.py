"""The bracket of "auto" beyond max_exact: lower <= W_p <= upper on cases where W_p is known without solving OT."""

import numpy as np
import pytest
import torch

import wgflow.transport as wt
from wgflow.transport.couplings import Coupling, coupling_cost_pp, multiscale_coupling, sliced_couplings
from wgflow.transport.refine import local_resolve

REL = 1e-9  # round-off allowance of a certified comparison


def inside(info, true):
    return info.lower <= true * (1 + REL) and true <= info.upper * (1 + REL)


def bracket(x, y, **kw):
    """The bracket itself, whatever the size (max_exact=0: small clouds are not solved exactly)."""
    return wt.wasserstein(x, y, method="bracket", return_info=True, max_exact=0, **kw)


@pytest.mark.parametrize("d", [2, 20, 100])
def test_translation_is_bracketed_tightly_with_rows_hidden(rng, d):
    n = 3000
    x = rng.normal(size=(n, d))
    v = rng.normal(size=d)
    v *= 0.7 / np.linalg.norm(v)
    y = (x + v)[rng.permutation(n)]
    value, info = bracket(x, y)
    assert info.relation == "bracket" and inside(info, 0.7)
    assert info.upper / info.lower - 1 <= 0.05
    assert value == pytest.approx(0.7, rel=1e-6)  # not |v| / sqrt(d), the sliced value


def test_auto_on_a_large_translation_returns_w2_not_sliced(rng):
    """Regression: above max_exact "auto" used to return the sliced distance |v| / sqrt(d)."""
    x = rng.normal(size=(4000, 50))
    v = np.full(50, 1 / np.sqrt(50))
    value, info = wt.wasserstein(x, x + v, return_info=True)
    assert info.method == "bracket" and value == pytest.approx(1.0, rel=1e-6) and inside(info, 1.0)


def test_spd_linear_map_plus_shift_is_bracketed(rng):
    """y = A x + v with A SPD: x -> A x + v is the gradient of a convex function, so the pairing is optimal."""
    n, d = 3000, 10
    x = rng.normal(size=(n, d))
    B = rng.normal(size=(d, d))
    A = B @ B.T / d + 0.3 * np.eye(d)
    y = x @ A + rng.normal(size=d)
    true = np.sqrt(((y - x) ** 2).sum(1).mean())
    _value, info = bracket(x, y[rng.permutation(n)])
    assert inside(info, true)
    assert info.upper / info.lower - 1 <= 0.05
    assert wt.wasserstein(x, y, method="exact") == pytest.approx(true, rel=1e-9)  # the oracle itself


@pytest.mark.slow
def test_gaussians_at_large_n_match_bures(rng):
    """y = T(x) with T the Bures map between two Gaussians: the bracket holds the empirical W2 and Bures."""
    n, d = 50_000, 5
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    G1, G2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    S1, S2 = G1 @ G1.T / d + 0.5 * np.eye(d), G2 @ G2.T / d + 0.5 * np.eye(d)
    x = rng.multivariate_normal(m1, S1, size=n)
    A, shift = wt.gaussian_ot_map(m1, S1, m2, S2)
    y = (x @ A.T + shift)[rng.permutation(n)]
    value, info = bracket(x, y)
    empirical = np.sqrt(((x @ A.T + shift - x) ** 2).sum(1).mean())  # the pairing is optimal (A SPD)
    assert inside(info, empirical) and info.upper / info.lower - 1 <= 0.01
    assert wt.gaussian_w2(m1, S1, m2, S2) == pytest.approx(value, rel=0.02)  # sampling error ~ n^-1/2


def test_one_dimension_bracket_holds_the_quantile_formula(rng):
    x, y = rng.normal(size=(700, 1)), 2 * rng.standard_exponential(size=(500, 1))
    a, b = rng.random(700), rng.random(500)
    for p in (1, 2, 3):
        exact = wt.wasserstein(x, y, a, b, p=p, method="1d")
        _, info = bracket(x, y, a=a, b=b, p=p)
        assert inside(info, exact) and info.upper / info.lower - 1 <= 0.05


@pytest.mark.parametrize("p", [1, 1.5, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_exact_value_lies_in_the_bracket_of_random_weighted_clouds(p, seed):
    rng = np.random.default_rng(seed)
    n, m, d = rng.integers(150, 400), rng.integers(150, 400), rng.integers(2, 8)
    x, y = rng.normal(size=(n, d)), rng.standard_t(3, size=(m, d)) + rng.normal(size=d)
    a, b = rng.random(n), rng.random(m)
    exact = wt.wasserstein(x, y, a, b, p=p, method="exact")
    value, info = bracket(x, y, a=a, b=b, p=p)
    assert inside(info, exact) and value == pytest.approx(info.upper, rel=1e-9)
    for name, lo in info.bounds["lower"].items():
        assert lo <= exact * (1 + REL), name
    for name, up in info.bounds["upper"].items():
        assert exact <= up * (1 + REL), name


def test_paired_clouds_use_the_identity_coupling(rng):
    x = rng.normal(size=(2000, 30))
    y = x - 0.01 * x * np.abs(x)  # a monotone gradient map: the identity pairing is optimal
    true = np.sqrt(((x - y) ** 2).sum(1).mean())
    _, info = bracket(x, y, paired=True)
    assert info.bounds["upper"]["paired"] == pytest.approx(true, rel=1e-12) and inside(info, true)
    with pytest.raises(ValueError, match="paired"):
        bracket(x, y[:-1], paired=True)


def test_exact_answers_say_so(rng):
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    for method in ("exact", "auto"):
        v, info = wt.wasserstein(x, y, method=method, return_info=True)
        assert info.relation == "exact" and info.lower == info.upper == v and info.width == 0


def test_estimate_is_differentiable_with_the_coupling_fixed(rng):
    x = torch.tensor(rng.normal(size=(300, 4)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(300, 4)) + 1.0)
    v = wt.wasserstein(x, y, method="bracket", max_exact=0)
    v.backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    # sum_i d/dx_i <pi, |x - y|^2>^(1/2) = sum_ij pi_ij (x_i - y_j) / W = (mean x - mean y) / W
    expected = (x.detach() - y).mean(0) / v.detach()
    torch.testing.assert_close(x.grad.sum(0), expected, rtol=1e-9, atol=1e-12)


def _marginals(c: Coupling, n, m):
    return np.bincount(c.rows, c.weights, minlength=n), np.bincount(c.cols, c.weights, minlength=m)


@pytest.mark.parametrize("weighted", [False, True])
def test_couplings_have_the_right_marginals_and_local_resolve_never_raises_cost(rng, weighted):
    n, m, d = 900, (700 if weighted else 900), 6
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.5
    a = rng.random(n) if weighted else np.ones(n)
    b = rng.random(m) if weighted else np.ones(m)
    a, b = a / a.sum(), b / b.sum()
    theta = rng.normal(size=(d, 2))
    theta /= np.linalg.norm(theta, axis=0)
    cs = sliced_couplings(x, y, a if weighted else None, b if weighted else None, theta)
    cs.append(multiscale_coupling(x, y, a, b, 2.0, leaf=64, branch=4))
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    exact = wt.wasserstein(x, y, a, b, method="exact") ** 2
    for c in cs:
        ra, rb = _marginals(c, n, m)
        np.testing.assert_allclose(ra, a, atol=1e-12)
        np.testing.assert_allclose(rb, b, atol=1e-12)
        better = local_resolve(x, y, c, 2.0, group=64, rounds=2)
        np.testing.assert_allclose(_marginals(better, n, m)[0], a, atol=1e-12)
        np.testing.assert_allclose(_marginals(better, n, m)[1], b, atol=1e-12)
        before, after = float(coupling_cost_pp(X, Y, c, 2)), float(coupling_cost_pp(X, Y, better, 2))
        assert exact * (1 - REL) <= after <= before * (1 + REL)
    sliced = min(float(coupling_cost_pp(X, Y, c, 2)) for c in cs[:-1])
    assert cs[-1].name == "multiscale" and float(coupling_cost_pp(X, Y, cs[-1], 2)) < sliced  # coarse-to-fine helps


def test_size_rules_choose_the_multiscale_coupling_and_its_local_resolve(rng, monkeypatch):
    # the multiscale coupling runs while n k <= MULTISCALE_MAX, its local re-solve while n k <= LOCAL_MAX;
    # multiscale=True forces both, False neither; every bound stays a bound of the exact value
    from wgflow.transport import bracket as module

    x, y = rng.normal(size=(300, 3)), 1.3 * rng.normal(size=(300, 3)) + 0.2
    exact = wt.wasserstein(x, y, method="exact")

    def upper_names(**kw):
        _, info = bracket(x, y, **kw)
        assert info.lower - 1e-9 <= exact <= info.upper + 1e-9
        return set(info.bounds["upper"])

    def local(names):  # the local re-solve refines the best coupling so far, whichever that is
        return any(name.endswith("+local") for name in names)

    names = upper_names()
    assert "multiscale" in names and local(names)
    monkeypatch.setattr(module, "LOCAL_MAX", 899)  # n k = 900
    names = upper_names()
    assert "multiscale" in names and not local(names)
    assert local(upper_names(multiscale=True))
    monkeypatch.setattr(module, "MULTISCALE_MAX", 899)
    for names in (upper_names(), upper_names(multiscale=False)):
        assert "multiscale" not in names and not local(names)
