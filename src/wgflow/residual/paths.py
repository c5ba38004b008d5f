r"""Parameters of a residual stack as functions of depth time t in [0, 1].

.. math::

    A^{pc}_L(t) = A_{\lfloor tL \rfloor}, \qquad
    A^{pl}_L(t_k) = A_k,\ t_k = (k + 1/2)/L \text{ (linear between, constant at the ends)},

    |A^{pl}_L|^2_{H^1} = \int_0^1 |\dot A|^2 dt = L \sum_k |A_{k+1} - A_k|^2 .

Layer k of a depth-L stack lives on the cell [k/L, (k+1)/L) and its node is the cell's
midpoint, so the finite-difference penalty of Thorpe & van Gennip (2023, arXiv 1810.11741,
eq. of the regularised energy) is *exactly* the H^1 seminorm of the piecewise-linear path.
Shapes: a path of depth L is a tensor (L, ...) (any trailing parameter shape).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..transport.maps import assignment

__all__ = [
    "eval_path",
    "resample_path",
    "path_distance",
    "h1_seminorm",
    "aligned_unit_distance",
    "align_layers",
]


def eval_path(P: torch.Tensor, t: torch.Tensor, kind: str = "linear") -> torch.Tensor:
    """Evaluate the path of nodes ``P`` (L, ...) at times ``t`` (T,) -> (T, ...)."""
    L = P.shape[0]
    t = torch.as_tensor(t, dtype=P.dtype)
    if kind == "constant":
        idx = torch.clamp((t * L).floor().long(), 0, L - 1)
        return P[idx]
    if kind != "linear":
        raise ValueError(f"kind must be 'constant' or 'linear', not {kind!r}")
    if L == 1:
        return P[torch.zeros_like(t, dtype=torch.long)]
    s = torch.clamp(t * L - 0.5, 0.0, L - 1.0)  # position in node units
    i0 = torch.clamp(s.floor().long(), 0, L - 2)
    w = (s - i0.to(s.dtype)).reshape(-1, *([1] * (P.dim() - 1)))
    return (1 - w) * P[i0] + w * P[i0 + 1]


def resample_path(P: torch.Tensor, L_new: int, kind: str = "linear") -> torch.Tensor:
    """Depth L -> depth ``L_new`` nodes.

    ``kind="linear"``: evaluate the piecewise-linear path at the new midpoints (exact on
    affine paths). ``kind="constant"``: cell averages of the piecewise-constant path (so
    L -> cL -> L is the identity).
    """
    L = P.shape[0]
    if kind == "linear":
        t = (torch.arange(L_new, dtype=P.dtype) + 0.5) / L_new
        return eval_path(P, t, "linear")
    n = L * L_new // math.gcd(L, L_new)  # common refinement: exact for piecewise-constant
    fine = P.repeat_interleave(n // L, dim=0)
    return fine.reshape(L_new, n // L_new, *P.shape[1:]).mean(dim=1)


def path_distance(
    P: torch.Tensor, Q: torch.Tensor, norm: str = "L2", kind: str = "linear", n_quad: int = 2048
) -> torch.Tensor:
    r"""``||P - Q||_{L^2(0,1)}`` or ``||P - Q||_{H^1(0,1)}`` between paths of any depths.

    Piecewise-constant paths are compared exactly on the common refinement of their cells;
    piecewise-linear ones by the midpoint rule on ``n_quad`` cells (error O(n_quad^-2)).
    The H^1 norm is (L2^2 + seminorm^2)^{1/2} of the piecewise-linear difference.
    """
    if kind == "constant" and norm == "L2":
        n = P.shape[0] * Q.shape[0] // math.gcd(P.shape[0], Q.shape[0])
        D = P.repeat_interleave(n // P.shape[0], 0) - Q.repeat_interleave(n // Q.shape[0], 0)
        return torch.sqrt((D**2).sum() / n)
    t = (torch.arange(n_quad, dtype=P.dtype) + 0.5) / n_quad
    D = eval_path(P, t, "linear") - eval_path(Q, t, "linear")  # (n_quad, ...)
    l2 = (D**2).sum() / n_quad
    if norm == "L2":
        return torch.sqrt(l2)
    if norm != "H1":
        raise ValueError("norm must be 'L2' or 'H1'")
    dD = torch.diff(D, dim=0) * n_quad  # derivative of the difference (exact per cell)
    return torch.sqrt(l2 + (dD**2).sum() / n_quad)


def h1_seminorm(P: torch.Tensor) -> torch.Tensor:
    r"""``(\int_0^1 |\dot P|^2)^{1/2}`` of the piecewise-linear path of nodes P (L, ...)."""
    L = P.shape[0]
    return torch.sqrt(L * (torch.diff(P, dim=0) ** 2).sum())


def _refine(U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit paths U (L, q, p), V (L', q, p) repeated onto the common refinement of their cells (n, q, p)."""
    if U.shape[1:] != V.shape[1:]:
        raise ValueError(f"unit paths differ in shape: {tuple(U.shape[1:])} vs {tuple(V.shape[1:])}")
    n = U.shape[0] * V.shape[0] // math.gcd(U.shape[0], V.shape[0])
    return U.repeat_interleave(n // U.shape[0], 0), V.repeat_interleave(n // V.shape[0], 0)


def _unit_costs(Uf: torch.Tensor, Vf: torch.Tensor, odd: bool) -> torch.Tensor:
    """Per-cell costs (n, q, q) |U_i|² + |V_j|² - 2|<U_i, V_j>| of sending unit j of V onto unit i of U."""
    cross = torch.einsum("nip,njp->nij", Uf, Vf)
    return (Uf**2).sum(2)[:, :, None] + (Vf**2).sum(2)[:, None] - 2 * (cross.abs() if odd else cross)


def aligned_unit_distance(U: torch.Tensor, V: torch.Tensor, odd: bool = True, per_layer: bool = False) -> float:
    r"""``min_g ||U - g V||_{L^2(0,1)}`` over relabellings g of the hidden units: one global one, or one per layer.

    U (L, q, p), V (L', q, p): the piecewise-constant paths of q hidden units, each unit a
    vector of p parameters (for a block W σ(A x + b): row A_i, b_i and column W_{:, i}, see
    :meth:`ResidualStack.unit_paths`). Such a block is unchanged when its units are
    permuted and, for odd σ (tanh), when a unit's (A_i, b_i, W_{:, i}) changes sign. A
    minimiser is therefore defined only up to these relabellings. The squared distance is a
    sum over units, so the best signed permutation is an exact assignment problem (scipy's
    ``linear_sum_assignment`` via :func:`wgflow.transport.assignment`) on the q x q matrix of per-unit distances
    |U_i|² + |V_j|² - 2|<U_i, V_j>| (the sign flip takes the absolute value), formed from
    Gram products without an (n, q, q, p) intermediate.

    ``per_layer=False``: the best *global* relabelling (the same for every layer); a path that
    switches labels between layers stays far, being rough in depth (what the finite-difference
    penalty forbids). ``per_layer=True``: every cell of the common refinement is relabelled on
    its own, the distance in the quotient by per-layer relabellings; exact when one depth
    divides the other (each layer of the coarser path is fixed, each of the finer relabelled),
    an upper bound otherwise.
    """
    Uf, Vf = _refine(U, V)
    n = Uf.shape[0]
    if per_layer:
        Cn = _unit_costs(Uf, Vf, odd).detach().cpu().numpy()  # (n, q, q): one assignment per cell
        total = sum(Cn[i][np.arange(Cn.shape[1]), assignment(Cn[i])].sum() for i in range(n))
        return float(np.sqrt(max(float(total) / n, 0.0)))
    cross = torch.einsum("nip,njp->ij", Uf, Vf)  # (q, q) inner products of unit paths
    Ct = (Uf**2).sum((0, 2))[:, None] + (Vf**2).sum((0, 2))[None] - 2 * (cross.abs() if odd else cross)
    C = (Ct / n).detach().cpu().numpy()
    c = assignment(C)
    return float(np.sqrt(max(float(C[np.arange(len(c)), c].sum()), 0.0)))


def align_layers(U: torch.Tensor, odd: bool = True) -> torch.Tensor:
    r"""The unit paths U (L, q, p) relabelled layer by layer to be as smooth in depth as possible.

    Layer l+1's units get the signed permutation that brings them closest to the (already
    aligned) layer l, an assignment problem as in :func:`aligned_unit_distance`. Each term
    |U_{l+1} g_{l+1} - U_l g_l|² of the finite-difference seminorm depends only on the relative
    relabelling g_l^{-1} g_{l+1}, and these are free and independent, so this greedy chain is the
    exact minimiser of :func:`h1_seminorm` over per-layer relabellings (a gauge fix, unique up to
    one global relabelling and ties).
    """
    out = [U[0]]
    for l in range(1, U.shape[0]):
        a, b = out[-1], U[l]
        cross = a @ b.T  # (q, q)
        C = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * (cross.abs() if odd else cross)
        c = assignment(C)
        r = np.arange(len(c))
        sign = torch.where(cross[r, c] < 0, -1.0, 1.0).to(U.dtype) if odd else torch.ones(len(r), dtype=U.dtype)
        out.append(b[c] * sign[:, None])
    return torch.stack(out)
