"""Sinkhorn at scale: a closed form at every blur, bounded memory, and the multiscale (truncated) path against the dense one."""

import pytest
import torch

import wgflow.transport as wt
from wgflow.transport.entropic import softmin
from wgflow.transport.sinkhorn import sinkhorn_divergence_pp


def _uniform(n):
    return torch.full((n,), 1.0 / n, dtype=torch.float64)


def test_debiased_divergence_of_a_translation_is_the_squared_shift_at_every_blur(rng):
    # for C = |x - y|^2, OT_eps(mu, mu + v) = OT_eps(mu, mu) + |v|^2 (the cross term -2 v.(x - y) has the
    # same integral under every coupling), so S_eps = |v|^2 exactly for every blur, while OT_eps itself
    # carries the entropic bias ~ eps log n (Feydy et al. 2019, Prop. 1)
    x = torch.tensor(rng.normal(size=(60, 2)))
    v = torch.tensor([0.8, -0.3], dtype=torch.float64)
    w2 = float(v @ v)
    for blur in [1.0, 0.5]:
        kw = dict(blur=blur, tol=1e-5, max_iter=1000)
        S, _ = sinkhorn_divergence_pp(x, x + v, _uniform(60), _uniform(60), **kw)
        OT, _ = sinkhorn_divergence_pp(x, x + v, _uniform(60), _uniform(60), debias=False, **kw)
        assert float(S) == pytest.approx(w2, rel=1e-7)
        assert float(OT) - w2 > 0.1 * blur**2


def _largest_allocation(fn) -> int:
    """Largest single CPU allocation (bytes) of any operator fn runs, from torch's profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return max(e.cpu_memory_usage for e in prof.events())


def test_softmin_memory_stays_linear_in_the_cloud_sizes(rng):
    # the (n, m) = (1000, 1000) float64 matrix would be 8 MB; with 128 KiB blocks no tensor is larger
    # than one block, and with one 1 GiB block the same probe sees the whole matrix (it can fail)
    x = torch.tensor(rng.normal(size=(1000, 3)))
    y = torch.tensor(rng.normal(size=(1000, 3)))
    h = torch.zeros(1000, dtype=torch.float64)
    small = _largest_allocation(lambda: softmin(0.5, x, y, h, 2.0, block_bytes=2**17))
    whole = _largest_allocation(lambda: softmin(0.5, x, y, h, 2.0, block_bytes=2**30))
    assert small <= 2**17 < 1000 * 1000 * 8 <= whole
    f_small, f_whole = softmin(0.5, x, y, h, 2.0, block_bytes=2**17), softmin(0.5, x, y, h, 2.0, block_bytes=2**30)
    assert torch.allclose(f_small, f_whole, rtol=1e-13, atol=0)


def test_multiscale_agrees_with_the_dense_path_in_low_dimension(rng):
    x = torch.tensor(rng.normal(size=(700, 2)))
    y = torch.tensor(rng.normal(size=(600, 2)) * 0.8 + 0.5)
    a, b = _uniform(700), _uniform(600)
    kw = dict(blur=0.05, scaling=0.85)
    dense, _ = sinkhorn_divergence_pp(x, y, a, b, multiscale=False, **kw)
    multi, _ = sinkhorn_divergence_pp(x, y, a, b, multiscale=True, **kw)
    assert float(multi) == pytest.approx(float(dense), rel=2e-3)
    exact = wt.wasserstein(x.numpy(), y.numpy(), method="exact") ** 2
    assert float(multi) == pytest.approx(exact, rel=0.05)


def test_multiscale_gradient_matches_the_dense_gradient(rng):
    x = torch.tensor(rng.normal(size=(300, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(250, 2)) + 0.3)
    grads = []
    for multiscale in [False, True]:
        S, _ = sinkhorn_divergence_pp(x, y, _uniform(300), _uniform(250), blur=0.1, scaling=0.85, multiscale=multiscale)
        (g,) = torch.autograd.grad(S, x)
        grads.append(g)
    # both are envelope gradients of unconverged schedules (the multiscale one runs fewer fine steps)
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 0.06


def test_multiscale_refuses_high_dimension(rng):
    x = torch.tensor(rng.normal(size=(20, 4)))
    with pytest.raises(ValueError, match="k <= 3"):
        sinkhorn_divergence_pp(x, x, _uniform(20), _uniform(20), multiscale=True)


def test_clamped_log_sum_exp_matches_torch_on_wide_ranges():
    # rows spanning 1e5 in the exponent (most entries past exp's underflow), rows with -inf (zero weights),
    # and a row of -inf only: the clamped, in-place log-sum-exp equals torch.logsumexp to rounding
    from wgflow.transport.entropic import lse_rows_

    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float64, torch.float32):
        S = torch.rand(6, 500, generator=g, dtype=torch.float64).mul(-1e5).to(dtype)
        S[:, 7] = 3.0  # one large entry per row
        S[1, 100:] = -torch.inf
        S[2] = torch.rand(500, generator=g, dtype=torch.float64).to(dtype)  # a flat row: every entry counts
        S[3] = -torch.inf
        ref = torch.logsumexp(S, 1)
        out = lse_rows_(S.clone())
        assert torch.equal(torch.isinf(out), torch.isinf(ref)) and bool(torch.isinf(out[3]))
        fin = torch.isfinite(ref)
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        assert torch.allclose(out[fin], ref[fin], rtol=tol, atol=0)


def test_float32_sinkhorn_agrees_with_float64(rng):
    # float32 input runs the whole solver in float32 (the matmul form of the cost included): the value
    # stays within 1e-5 relative of the float64 one at a small blur (d = 10, n = 800)
    x = torch.tensor(rng.normal(size=(800, 10)))
    y = torch.tensor(1.2 * rng.normal(size=(800, 10)) + 0.5)
    v64 = wt.wasserstein(x, y, method="sinkhorn", blur=0.05)
    v32 = wt.wasserstein(x.float(), y.float(), method="sinkhorn", blur=0.05)
    assert v32.dtype == torch.float32
    assert float(v32) == pytest.approx(float(v64), rel=1e-5)
