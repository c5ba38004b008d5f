"""Parameter paths in depth time: round trips, exactness on affine paths, H¹ = FD penalty."""

import torch

from wgflow.residual import (
    ObjectiveConfig,
    ResidualStack,
    eval_path,
    h1_seminorm,
    path_distance,
    regularised_objective,
    resample_path,
)


def test_constant_resampling_round_trip():
    P = torch.randn(6, 2, 3, dtype=torch.float64)
    for c in (2, 3, 5):
        Q = resample_path(resample_path(P, 6 * c, "constant"), 6, "constant")
        assert torch.allclose(Q, P, atol=1e-14)


def test_linear_resampling_exact_on_affine_paths():
    f = lambda t: torch.stack([1 + 2 * t, -3 * t], -1)
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
    fd = regularised_objective(
        net, torch.randn(5, 2, dtype=torch.float64), torch.zeros(5, dtype=torch.long), ObjectiveConfig()
    )["fd"]
    h1 = h1_seminorm(net.A) ** 2 + h1_seminorm(net.b) ** 2
    assert torch.allclose(fd, h1, rtol=1e-12)
    # and it is the integral of |dA/dt|² of the interpolant, by fine quadrature
    n = 10 * 401  # fine points never straddle a node (k + 1/2)/10, so the quadrature is exact
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    V = eval_path(net.A.detach(), t)
    quad = (torch.diff(V, dim=0) ** 2).sum() * n
    assert abs(float(quad) - float(h1_seminorm(net.A.detach()) ** 2)) < 1e-10 * float(quad)


def test_aligned_unit_distance_quotients_exactly_the_global_symmetry():
    import itertools

    from wgflow.residual import aligned_unit_distance

    g = torch.Generator().manual_seed(0)
    net = ResidualStack(2, 2, 6, 2, variant="WA", hidden=4, embed=False, generator=g)
    x = torch.randn(20, 2, dtype=torch.float64, generator=g)
    U = net.unit_paths()  # (6, 4, 5)
    perm, sign = torch.tensor([2, 0, 3, 1]), torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    with torch.no_grad():  # a global signed permutation of the units leaves the network's function unchanged
        y0 = net(x)
        net.A.copy_(net.A[:, perm] * sign[:, None])
        net.b.copy_(net.b[:, perm] * sign)
        net.W.copy_(net.W[:, :, perm] * sign)
        assert torch.allclose(net(x), y0, atol=1e-13)
    V = net.unit_paths()
    assert aligned_unit_distance(U, V) < 1e-12 and path_distance(U, V, "L2", "constant") > 0.1
    assert aligned_unit_distance(U, resample_path(V, 18, "constant")) < 1e-12  # any depth, common refinement
    # Against brute force over all 4! * 2^4 signed permutations, for unrelated paths of depths 6 and 9.
    W9 = torch.randn(9, 4, 5, dtype=torch.float64, generator=g)
    Uf, Wf = U.repeat_interleave(3, 0), W9.repeat_interleave(2, 0)
    best = min(
        float(((Uf - Wf[:, list(p)] * torch.tensor(s, dtype=torch.float64)[:, None]) ** 2).sum() / 18)
        for p in itertools.permutations(range(4))
        for s in itertools.product((1, -1), repeat=4)
    )
    assert abs(aligned_unit_distance(U, W9) - best**0.5) < 1e-12
    # A per-layer relabelling is not quotiented out: it makes the path rough in depth.
    R = U.clone()
    R[::2] = R[::2][:, perm]
    assert aligned_unit_distance(U, R) > 0.1


def _signed_perms(q):
    import itertools

    for p in itertools.permutations(range(q)):
        for s in itertools.product((1.0, -1.0), repeat=q):
            yield list(p), torch.tensor(s, dtype=torch.float64)[:, None]


def test_per_layer_quotient_is_the_cellwise_minimum():
    from wgflow.residual import aligned_unit_distance

    g = torch.Generator().manual_seed(1)
    U = torch.randn(3, 3, 4, dtype=torch.float64, generator=g)
    V = torch.randn(6, 3, 4, dtype=torch.float64, generator=g)
    # Brute force: each of the 6 cells of the common refinement takes its own signed permutation of V's units.
    Uf = U.repeat_interleave(2, 0)
    best = sum(min(float(((Uf[i] - V[i][p] * s) ** 2).sum()) for p, s in _signed_perms(3)) for i in range(6)) / 6
    assert abs(aligned_unit_distance(U, V, per_layer=True) - best**0.5) < 1e-12
    assert aligned_unit_distance(U, V, per_layer=True) < aligned_unit_distance(U, V)  # a strictly coarser quotient
    # A per-layer relabelling (which the global quotient keeps, see above) is quotiented out exactly.
    R = torch.stack([V[i][p] * s for i, (p, s) in zip(range(6), list(_signed_perms(3))[::7])])
    assert aligned_unit_distance(V, R, per_layer=True) < 1e-12 < 0.1 < aligned_unit_distance(V, R)


def test_align_layers_minimises_the_fd_seminorm_over_per_layer_relabellings():
    import itertools

    from wgflow.residual import align_layers, aligned_unit_distance

    g = torch.Generator().manual_seed(2)
    # A smooth path (two random nodes, linear) scrambled by a signed permutation per layer is recovered up to one
    # global relabelling, with the seminorm of the smooth path.
    U = resample_path(torch.randn(2, 3, 5, dtype=torch.float64, generator=g), 12, "linear")
    perms = list(_signed_perms(3))
    R = torch.stack([U[i][perms[(5 * i) % len(perms)][0]] * perms[(5 * i) % len(perms)][1] for i in range(12)])
    assert h1_seminorm(R) > 2 * h1_seminorm(U)
    A = align_layers(R)
    assert aligned_unit_distance(U, A) < 1e-6  # the square root of a Gram-form difference: of rounding size
    assert abs(float(h1_seminorm(A)) - float(h1_seminorm(U))) < 1e-12
    # On a rough random path: the chain's seminorm is the brute-force minimum over all per-layer relabellings.
    P = torch.randn(3, 2, 3, dtype=torch.float64, generator=g)
    q2 = list(_signed_perms(2))
    best = min(
        float(h1_seminorm(torch.stack([P[0], P[1][p1] * s1, P[2][p2] * s2])))
        for (p1, s1), (p2, s2) in itertools.product(q2, q2)
    )
    assert abs(float(h1_seminorm(align_layers(P))) - best) < 1e-12
