"""Parameter paths in depth time: round trips, exactness on affine paths, H¹ = FD penalty."""

import torch

from wgflow.residual import (ObjectiveConfig, ResidualStack, eval_path, h1_seminorm, path_distance,
                             regularised_objective, resample_path)


def test_constant_resampling_round_trip():
    P = torch.randn(6, 2, 3, dtype=torch.float64)
    for c in (2, 3, 5):
        Q = resample_path(resample_path(P, 6 * c, "constant"), 6, "constant")
        assert torch.allclose(Q, P, atol=1e-14)


def test_linear_resampling_exact_on_affine_paths():
    f = lambda t: torch.stack([1 + 2 * t, -3 * t], -1)  # noqa: E731
    L = 8
    P = f((torch.arange(L, dtype=torch.float64) + 0.5) / L)
    Q = resample_path(P, 13, "linear")
    t = (torch.arange(13, dtype=torch.float64) + 0.5) / 13
    inner = (t >= 0.5 / L) & (t <= 1 - 0.5 / L)  # constant extension outside the node range
    assert torch.allclose(Q[inner], f(t[inner]), atol=1e-13)
    back = resample_path(resample_path(P, 32, "linear"), L, "linear")
    assert torch.allclose(back[1:-1], P[1:-1], atol=1e-13)


def test_eval_constant_and_distance_exact():
    P = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    Q = torch.tensor([[0.0], [0.0], [1.0], [2.0]], dtype=torch.float64)
    assert torch.equal(eval_path(P, torch.tensor([0.1, 0.6]), "constant"), P)
    # difference is 0 on [0,.75) and 1 on [.75,1): L2 norm = 1/2
    assert abs(float(path_distance(P, Q, "L2", "constant")) - 0.5) < 1e-14
    assert float(path_distance(P, P, "H1")) == 0.0


def test_fd_penalty_is_h1_seminorm_of_piecewise_linear_path():
    net = ResidualStack(2, 3, 10, 2, generator=torch.Generator().manual_seed(0))
    fd = regularised_objective(net, torch.randn(5, 2, dtype=torch.float64), torch.zeros(5, dtype=torch.long),
                               ObjectiveConfig())["fd"]
    h1 = h1_seminorm(net.A) ** 2 + h1_seminorm(net.b) ** 2
    assert torch.allclose(fd, h1, rtol=1e-12)
    # and it is the integral of |dA/dt|² of the interpolant, by fine quadrature
    n = 10 * 401  # fine points never straddle a node (k + 1/2)/10, so the quadrature is exact
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    V = eval_path(net.A.detach(), t)
    quad = (torch.diff(V, dim=0) ** 2).sum() * n
    assert abs(float(quad) - float(h1_seminorm(net.A.detach()) ** 2)) < 1e-10 * float(quad)
