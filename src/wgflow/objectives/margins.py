r"""Margins of two-layer ReLU classifiers, and the max-margin classifiers they are compared with.

For a 2-homogeneous network f(x) = (1/m) sum_j c_j relu(w_j . x) (Chizat & Bach, COLT 2020)::

    gamma_F1(mu) = min_i y_i f(x_i) / ( (1/m) sum_j |theta_j|^2 ),   theta_j = (c_j, w_j),

which is invariant under theta -> s theta (numerator and denominator are both 2-homogeneous)
and bounds from below half the F1 margin of f, since the variation norm satisfies
|f|_F1 <= (1/m) sum_j |c_j||w_j| <= (1/(2m)) sum_j |theta_j|^2 (equality for balanced units,
|c_j| = |w_j|, which the flow approaches as the weights grow). Gradient flow on the logistic or
exponential loss drives it to half the F1 max-margin value when both layers are trained (Thm 5).
Training only the output layer, the network is linear in c with features relu(w_j . x) and its
natural margin is the kernel (F2) one, :func:`f2_margin`. The authors train on
:class:`SmoothMargin`, the log of the exponential loss (same direction of gradient, step
independent of how small the loss has become).

The references (Chizat & Bach 2020, §3-4):

- :func:`f1_max_margin`: max_{|f|_F1 <= 1} min_i y_i f(x_i), a linear program over a dictionary
  of units relu(u_k . x), |u_k| = 1 (SciPy's HiGHS), refined by column generation;
- :func:`f2_max_margin`: max_{|f|_H <= 1} min_i y_i f(x_i), the hard-margin SVM without intercept
  for a precomputed kernel (scikit-learn's ``SVC``), e.g. :func:`feature_kernel` of fixed units.

References
----------
1. L. Chizat & F. Bach, "Implicit bias of gradient descent for wide two-layer neural networks
   trained with the logistic loss", COLT 2020, Thm 3 and 5, §5.
2. D. Soudry et al., "The implicit bias of gradient descent on separable data", JMLR 2018.
3. F. Bach, "Breaking the curse of dimensionality with convex neural networks", JMLR 2017, §2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..measures.measure import ParticleMeasure, two_pass
from .data import stack_samples
from .risks import Objective

__all__ = [
    "F1MaxMargin",
    "F2MaxMargin",
    "SmoothMargin",
    "classification_error",
    "f1_margin",
    "f1_max_margin",
    "f2_margin",
    "f2_max_margin",
    "feature_kernel",
    "margin",
    "param_norm_sq",
    "separates",
    "sphere_directions",
]


class SmoothMargin(Objective):
    r"""J(mu) = log (1/n) sum_i exp(-y_i f_mu(x_i)), minus the soft-min of the margins y_i f(x_i).

    Its gradient is the exponential loss's divided by that loss: the weights
    w = softmax(-y f(x)) sum to 1, so the step does not shrink as the data get separated. It is
    the objective of the authors' code (``twonet`` in ``implicit_bias_2NN_utils.jl`` of
    lchizat/2020-implicit-bias-wide-2NN, gradient ``temp .* Y ./ sum(temp)``), whose step
    eta / sqrt(t + 1) is the sources' (docs/science.md §1.5); -J is the smoothed margin of Lyu & Li (ICLR 2020).
    x (n, d), y (n,) in {-1, +1}; full batch only; output scale alpha = 1. An ensemble's members have data
    sets of their own, of one size (stacked (E, n, d)).
    """

    loss = "smooth_margin"

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError(f"SmoothMargin needs x (n, d) and y (n,), got {tuple(x.shape)} and {tuple(y.shape)}")
        self.x, self.y = x, y

    @classmethod
    def _two_pass(cls, members, ens, alpha, cache, grad):
        """J (E,) and G (E, n, p): z = -y h, J = logsumexp(z) - log n, dJ/dh_i = -y_i softmax(z)_i."""
        if alpha != 1.0:
            raise ValueError("SmoothMargin is defined for the output scale alpha = 1")
        x, y = stack_samples([(m.x, m.y) for m in members], cache, "data", ens.theta.dtype, ens.theta.device)

        def loss(h):
            z = -y * h  # (E, n); logsumexp: stable for large margins
            return torch.logsumexp(z, -1) - math.log(z.shape[-1]), -y * torch.softmax(z, -1)

        return two_pass(ens, x, loss, grad=grad)

    @classmethod
    def ensemble_value_and_grad(cls, members, ens, alpha=1.0, batch_size=None, generators=None, *, cache=None, **_):
        if batch_size is not None:
            raise ValueError("SmoothMargin is a full-batch objective (batch_size=None)")
        return cls._two_pass(members, ens, alpha, cache, grad=True)

    @classmethod
    def ensemble_risk(cls, members, ens, alpha=1.0, *, cache=None, **_):
        return cls._two_pass(members, ens, alpha, cache, grad=False)[0].double().cpu().numpy()

    def V(self, theta, mu, alpha=1.0):
        if alpha != 1.0:
            raise ValueError("SmoothMargin is defined for the output scale alpha = 1")
        h, y = mu.output(self.x.to(mu.theta.dtype)), self.y.to(mu.theta.dtype)
        return mu.unit.phi(self.x.to(h.dtype), theta).T @ (-y * torch.softmax(-y * h, 0))  # (m,)


def margin(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> float:
    """min_i y_i f_mu(x_i) (unnormalised; negative when a point is misclassified). x (N, d), y (N,)."""
    return float((y.to(mu.theta.dtype) * mu.output(x, alpha)).min())


def param_norm_sq(mu: ParticleMeasure) -> float:
    """int |theta|^2 dmu = sum_j a_j |theta_j|^2 (= (1/m) sum_j |theta_j|^2 for uniform weights)."""
    return float(mu.a @ (mu.theta.detach() ** 2).sum(1))


def f1_margin(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor) -> float:
    """Normalised margin min_i y_i f(x_i) / int |theta|^2 dmu (scale-invariant for 2-homogeneous units)."""
    if mu.unit.homogeneous != 2:
        raise ValueError(f"the F1-normalised margin needs 2-homogeneous units, got {mu.unit!r}")
    return margin(mu, x, y) / param_norm_sq(mu)


def f2_margin(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor) -> float:
    r"""Output-layer margin min_i y_i f(x_i) / sqrt(sum_j a_j c_j^2), the units' w held fixed.

    f = sum_j a_j c_j phi_j is linear in c; sqrt(sum_j a_j c_j^2) bounds the norm of f in the RKHS
    of :func:`feature_kernel` (with equality for the minimal-norm c), so this is <= the value of
    :func:`f2_max_margin` for that kernel.
    """
    c = mu.theta.detach()[:, 0]
    return margin(mu, x, y) / float(torch.sqrt(mu.a @ c**2))


def classification_error(mu: ParticleMeasure, x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0) -> float:
    """Fraction of points with sign f(x_i) != y_i (f = 0 counts as an error)."""
    return float(((y.to(mu.theta.dtype) * mu.output(x, alpha)) <= 0).double().mean())


def separates(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0):
    """The test "training error 0" of an ensemble, for :class:`wgflow.flows.StopRule`: ``test(ens)`` is, per
    member e, whether y_i f_e(x_i) > 0 at every point (ties are errors, as in :func:`classification_error`).
    x (n, d) and y (n,) shared by the members, or (E, n, d) and (E, n): each member's own data."""

    def test(ens) -> np.ndarray:
        with torch.no_grad():
            yf = y.to(ens.theta.dtype) * ens.output(x, alpha)  # (E, n)
        return (yf > 0).all(dim=-1).cpu().numpy()

    return test


# --------------------------------------------------------------------------- dictionaries
def sphere_directions(
    d: int, count: int, *, kind: str = "grid", generator: torch.Generator | None = None
) -> np.ndarray:
    """``count`` unit vectors of R^d, shape (count, d).

    ``kind="grid"``: equally spaced angles on the circle (d = 2) or the Fibonacci lattice on S^2
    (d = 3, quasi-uniform, spacing about sqrt(4 pi / count)); ``kind="random"``: i.i.d. uniform
    (any d; the only option beyond d = 3).
    """
    if count < 1:
        raise ValueError(f"sphere_directions needs count >= 1, got {count}")
    if kind == "random":
        u = torch.randn(count, d, generator=generator, dtype=torch.float64).numpy()
        return u / np.linalg.norm(u, axis=1, keepdims=True)
    if kind != "grid":
        raise ValueError(f"kind must be 'grid' or 'random', got {kind!r}")
    if d == 2:
        t = 2 * np.pi * np.arange(count) / count
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if d == 3:
        k = np.arange(count) + 0.5
        z = 1 - 2 * k / count
        phi = np.pi * (1 + 5**0.5) * k  # golden angle increments
        r = np.sqrt(1 - z * z)
        return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    raise ValueError(f"a grid of directions exists for d = 2 or 3 only, got d = {d}: use kind='random'")


# --------------------------------------------------------------------------- F1 (variation norm)
@dataclass(frozen=True)
class F1MaxMargin:
    """f(x) = sum_k a_k relu(u_k . x) with sum_k |a_k| = 1, |u_k| = 1.

    ``margin`` = min_i y_i f(x_i) (the LP optimum over the final dictionary, a lower bound of the
    F1 max margin); ``oracle`` = the largest |g_p(u)| = |sum_i p_i y_i relu(u . x_i)| that the ascent
    found for the final dual weights p (n,). By LP duality the F1 max margin is
    min_p max_{|u| = 1} |g_p(u)|, so max over the whole sphere bounds it from above; the ascent is
    local, hence ``oracle > margin`` proves the dictionary suboptimal while ``oracle == margin`` is
    no certificate. ``units`` (K, d), ``a`` (K,).
    """

    margin: float
    oracle: float
    a: np.ndarray
    units: np.ndarray
    p: np.ndarray
    rounds: int

    def output(self, x) -> np.ndarray:
        """f(x), shape (N,)."""
        return np.maximum(np.asarray(x, dtype=float) @ self.units.T, 0.0) @ self.a


def _f1_lp(phi: np.ndarray, y: np.ndarray):
    """max gamma s.t. y_i sum_k a_k phi_ik >= gamma, sum_k |a_k| <= 1, with a = a+ - a- (a+, a- >= 0)."""
    from scipy.optimize import linprog

    n, K = phi.shape
    yphi = y[:, None] * phi  # (n, K)
    A_ub = np.vstack(
        [
            np.hstack([-yphi, yphi, np.ones((n, 1))]),  # gamma - y_i f(x_i) <= 0
            np.hstack([np.ones((1, 2 * K)), np.zeros((1, 1))]),
        ]
    )  # sum |a| <= 1
    b_ub = np.r_[np.zeros(n), 1.0]
    cost = np.r_[np.zeros(2 * K), -1.0]
    bounds = [(0, None)] * (2 * K) + [(None, None)]
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"F1 max-margin LP failed: {res.message}")
    a = res.x[:K] - res.x[K : 2 * K]
    p = np.maximum(-res.ineqlin.marginals[:n], 0.0)  # dual weights of the margin constraints, sum 1
    return float(-res.fun), a, p


def _ascend(x: np.ndarray, py: np.ndarray, u: np.ndarray, iters: int) -> np.ndarray:
    """Fixed-point ascent of |g_p(u)| = |sum_i p_i y_i relu(u . x_i)| on the sphere from each row of u.

    On the cell where S = {i: u . x_i > 0} is fixed, g_p(u) = u . v_S with v_S = sum_{i in S} p_i y_i x_i,
    maximised over the sphere at +-v_S / |v_S|; iterate (a heuristic: keep the best point seen).
    """
    best = u
    for _ in range(iters):
        v = ((x @ u.T > 0) * py[:, None]).T @ x  # (K, d)
        s = np.sign(np.einsum("kd,kd->k", v, u))[:, None]
        s[s == 0] = 1.0
        u = s * v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
        best = np.vstack([best, u])
    return best


def f1_max_margin(
    x, y, units, *, rounds: int = 30, ascent_iters: int = 20, rtol: float = 1e-6, new_per_round: int = 50
) -> F1MaxMargin:
    r"""F1 (variation-norm) max-margin classifier over a dictionary of ReLU units, by linear programming.

    .. math::

        \max_{a,\ \gamma} \gamma \quad \text{s.t.}\quad y_i \sum_k a_k\, \mathrm{relu}(u_k\cdot x_i) \ge \gamma,
        \qquad \sum_k |a_k| \le 1,

    solved with HiGHS (``scipy.optimize.linprog``); the optimum is the F1 max margin restricted to the
    dictionary (Bach 2017, §2; Chizat & Bach 2020, eq. of Thm 5). Column generation then refines it:
    from the LP's dual weights p, directions u maximising |sum_i p_i y_i relu(u . x_i)| (fixed-point
    ascent started from every dictionary unit) join the dictionary while they beat the LP value by
    more than ``rtol`` (the ``new_per_round`` best ones, at most ``rounds`` times; ``rounds=0``: plain
    dictionary LP). It is Kelley's cutting-plane method on the dual, so the gap ``oracle - margin`` closes
    slowly near the optimum: both values are returned.

    Parameters
    ----------
    x : (n, d) inputs (the bias coordinate included); y : (n,) labels in {-1, +1};
    units : (K, d) dictionary directions (normalised here), e.g. :func:`sphere_directions`.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    u = np.asarray(units, dtype=float)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    if x.ndim != 2 or u.ndim != 2 or x.shape[1] != u.shape[1] or y.shape != (x.shape[0],):
        raise ValueError(f"f1_max_margin needs x (n, d), y (n,), units (K, d), got {x.shape}, {y.shape}, {u.shape}")
    done = 0
    while True:
        gamma, a, p = _f1_lp(np.maximum(x @ u.T, 0.0), y)
        cand = _ascend(x, p * y, u, ascent_iters)
        g = np.abs(np.maximum(x @ cand.T, 0.0).T @ (p * y))  # (K',)
        oracle = float(g.max())
        if done >= rounds or oracle <= gamma + rtol * abs(gamma):
            return F1MaxMargin(gamma, oracle, a, u, p, done)
        u = np.vstack([u, cand[np.argsort(-g)[:new_per_round]]])
        done += 1


# --------------------------------------------------------------------------- F2 (kernel / RKHS)
@dataclass(frozen=True)
class F2MaxMargin:
    """f(x) = sum_i alpha_i k(x_i, x) with |f|_H = 1: ``margin`` = min_i y_i f(x_i), ``alpha`` (n,)."""

    margin: float
    alpha: np.ndarray

    def output(self, gram_test_train) -> np.ndarray:
        """f at new points from their kernel against the training points (N, n); shape (N,)."""
        return np.asarray(gram_test_train, dtype=float) @ self.alpha


def feature_kernel(mu: ParticleMeasure, x1: torch.Tensor, x2: torch.Tensor | None = None) -> np.ndarray:
    r"""k(x, x') = sum_j a_j phi_j(x) phi_j(x'), phi_j(x) = relu(w_j . x) for the units' fixed w_j; (N1, N2).

    The kernel of output-layer training: f = sum_j a_j c_j phi_j has |f|_H <= sqrt(sum_j a_j c_j^2).
    """
    t = mu.theta.detach().clone()
    t[:, 0] = 1.0
    f1 = mu.unit.phi(x1.to(t.dtype), t) * mu.a.sqrt()  # (N1, m)
    f2 = f1 if x2 is None else mu.unit.phi(x2.to(t.dtype), t) * mu.a.sqrt()
    return (f1 @ f2.T).numpy()


def f2_max_margin(gram, y, *, C: float = 1e8, tol: float = 1e-9) -> F2MaxMargin:
    r"""Hard-margin SVM without intercept for a precomputed kernel: max_{|f|_H <= 1} min_i y_i f(x_i).

    .. math::

        \min_{f \in H} \tfrac12 |f|_H^2 \quad\text{s.t.}\quad y_i f(x_i) \ge 1, \qquad
        \text{margin} = 1 / |f^\star|_H,

    the limit direction of gradient descent on a linear model with the logistic loss (Soudry et al.
    2018), i.e. of output-layer training (Chizat & Bach 2020, §3). scikit-learn's ``SVC`` always fits
    an intercept b; it is solved on the data and its mirror image (k -> [[K, -K], [-K, K]], labels
    (y, -y)), for which (f, b) and (f, -b) are both optimal, f is unique, hence b = 0 is optimal and
    f is the intercept-free solution. A large ``C`` makes the soft margin hard; the returned margin is
    min_i y_i f(x_i) / |f|_H of the solution found (negative if the data are not separable).

    Parameters
    ----------
    gram : (n, n) kernel matrix K_ij = k(x_i, x_j); y : (n,) labels in {-1, +1}.
    """
    from sklearn.svm import SVC

    K = np.asarray(gram, dtype=float)
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    if K.shape != (n, n):
        raise ValueError(f"f2_max_margin needs an (n, n) kernel for n = {n} labels, got {K.shape}")
    svc = SVC(kernel="precomputed", C=C, tol=tol, max_iter=-1)
    svc.fit(np.block([[K, -K], [-K, K]]), np.r_[y, -y])
    coef = np.zeros(2 * n)
    coef[svc.support_] = svc.dual_coef_[0]
    alpha = coef[:n] - coef[n:]  # f = sum_i alpha_i k(x_i, .): the mirror point contributes -k(x_i, .)
    norm = math.sqrt(max(float(alpha @ K @ alpha), 0.0))
    if norm == 0.0:
        return F2MaxMargin(float("nan"), alpha)
    alpha = alpha / norm
    return F2MaxMargin(float((y * (K @ alpha)).min()), alpha)
