r"""A user's two-layer PyTorch network as a particle measure, and back.

A network written the usual way,

    g(x) = sum_{i=1}^n a_i h(w_i . x + b_i) + b_out       (nn.Linear(d, n), act, nn.Linear(n, 1)),

is the mean-field network of docs/science.md §1.1 with output scale alpha plus a constant:

    g(x) = f_mu(x) + b_out,   f_mu(x) = (alpha / n) sum_i c_i h(w_i . x + b_i),   c_i = n a_i / alpha.

So each hidden unit is one particle theta_i = (c_i, w_i[, b_i]) of the unit family of its activation
(:class:`~wgflow.measures.units.ReLU` with the bias as an extra coordinate of w, 2-homogeneous;
:class:`~wgflow.measures.units.Sigmoid` / :class:`~wgflow.measures.units.Tanh` with (c, w, b)), and the factor n / alpha
moves the output layer's scale into the particles. The output bias b_out is not a particle: it is kept
on the returned :class:`ModuleMeasure` (``output_bias``) and restored by :meth:`ModuleMeasure.to_module`;
``mu.network(x)`` is the user's g(x), ``mu(x, mu.alpha)`` is f_mu alone.

Round trip: the measure is float64 by default, so module -> measure -> module reproduces a float32
module bitwise (the relative error of c_i = n a_i / alpha in float64 is far below float32's rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..measures.measure import ParticleMeasure
from ..measures.units import ReLU, Sigmoid, Tanh, Unit

__all__ = ["ModuleMeasure", "from_module", "to_module", "two_layers", "layers_theta"]

_ACT_MODULES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_ACT_FUNCTIONS = {
    torch.relu: "relu",
    torch.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    nn.functional.relu: "relu",
    nn.functional.sigmoid: "sigmoid",
    nn.functional.tanh: "tanh",
}
_ACT_BUILD = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


@dataclass(frozen=True, eq=False)
class ModuleMeasure(ParticleMeasure):
    """A :class:`ParticleMeasure` read from a module, with what the measure itself does not hold.

    alpha : the output scale of the convention c_i = n a_i / alpha.
    output_bias : b_out of the output layer (None when it has no bias).
    hidden_bias : whether the hidden layer has a bias (for :meth:`to_module`).
    module_dtype : the dtype of the module's parameters.
    """

    alpha: float = 1.0
    output_bias: float | None = None
    hidden_bias: bool = True
    module_dtype: torch.dtype = torch.float32

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """The user's network g(x) = f_mu(x) + b_out, shape (B,)."""
        f = self.output(x, self.alpha)
        return f if self.output_bias is None else f + self.output_bias

    def to_module(self, **kw) -> nn.Module:
        """The network back as ``nn.Sequential`` (or written into ``into=``); see :func:`to_module`."""
        opts = dict(
            alpha=self.alpha, output_bias=self.output_bias, hidden_bias=self.hidden_bias, dtype=self.module_dtype
        )
        return to_module(self, **{**opts, **kw})


def _activation_name(act) -> str:
    if isinstance(act, str) and act in _ACT_BUILD:
        return act
    if isinstance(act, nn.Module) and type(act) in _ACT_MODULES:
        return _ACT_MODULES[type(act)]
    if callable(act) and act in _ACT_FUNCTIONS:
        return _ACT_FUNCTIONS[act]
    raise ValueError(f"unsupported activation {act!r}; use ReLU, Sigmoid or Tanh (module, function or name)")


def _submodule(model: nn.Module, name: object, role: str) -> nn.Module:
    """``model``'s submodule called ``name``, else a ValueError naming the layers it has."""
    names = [k for k, _ in model.named_modules() if k]
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"{role}={name!r} names no layer of {type(model).__name__}; its layers are {', '.join(names) or 'none'}"
        )
    return model.get_submodule(name)


def two_layers(model: nn.Module, hidden: str | None = None, output: str | None = None, activation=None):
    """(hidden Linear, output Linear, activation name) of a two-layer network.

    ``nn.Sequential(nn.Linear(d, n), act, nn.Linear(n, 1))`` is read as is; any other module by the
    names ``hidden`` / ``output`` of its layers, or by its only two ``nn.Linear`` submodules. The
    activation is the ``act`` of the Sequential, the ``activation`` argument, or the module's only
    ReLU/Sigmoid/Tanh submodule.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if hidden is not None or output is not None:
        if hidden is None or output is None:
            raise ValueError("name both layers: hidden='fc1', output='fc2'")
        layers = [_submodule(model, hidden, "hidden"), _submodule(model, output, "output")]
    elif isinstance(model, nn.Sequential):
        if len(model) != 3:
            raise ValueError(
                f"expected nn.Sequential(nn.Linear(d, n), act, nn.Linear(n, 1)), got {len(model)} "
                "modules; name the layers with hidden=..., output=..."
            )
        layers = [model[0], model[2]]
        activation = model[1] if activation is None else activation
    else:
        layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if len(layers) != 2:
            raise ValueError(
                f"{type(model).__name__} has {len(layers)} nn.Linear layers, not 2; name them with "
                "hidden=..., output=..."
            )
    if activation is None:
        acts = [m for m in model.modules() if type(m) in _ACT_MODULES]
        if len(acts) != 1:
            raise ValueError(
                f"cannot tell the activation of {type(model).__name__}: pass activation='relu'|'sigmoid'|'tanh'"
            )
        activation = acts[0]
    fc1, fc2 = layers
    if not (isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear)):
        raise ValueError("the hidden and output layers must be nn.Linear")
    if fc2.out_features != 1 or fc2.in_features != fc1.out_features:
        raise ValueError(
            f"expected layers Linear(d, n) and Linear(n, 1), got Linear({fc1.in_features}, "
            f"{fc1.out_features}) and Linear({fc2.in_features}, {fc2.out_features})"
        )
    return fc1, fc2, _activation_name(activation)


def _unit(act: str, d: int, hidden_bias: bool) -> Unit:
    return ReLU(d, bias=hidden_bias) if act == "relu" else {"sigmoid": Sigmoid, "tanh": Tanh}[act](d)


@torch.no_grad()
def from_module(
    model: nn.Module,
    *,
    hidden: str | None = None,
    output: str | None = None,
    activation=None,
    alpha: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> ModuleMeasure:
    r"""The hidden units of a two-layer network as a particle measure.

    .. math::

        \sum_i a_i h(w_i \cdot x + b_i) + b_{out} = \frac{\alpha}{n} \sum_i c_i h(w_i \cdot x + b_i) + b_{out},
        \qquad c_i = n a_i / \alpha

    Returns theta (n, p) = (c, w[, b]) for the unit family of the activation; ReLU without a hidden
    bias is (c, w), with one (c, w, b) (bias = the last coordinate of w); Sigmoid/Tanh always carry b
    (0 without a hidden bias). The output bias is kept on the result (``output_bias``).
    """
    fc1, fc2, act = two_layers(model, hidden, output, activation)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    theta, b_out = layers_theta(fc1, fc2, act, alpha, dtype)
    hb = fc1.bias is not None
    return ModuleMeasure(theta, _unit(act, fc1.in_features, hb), None, float(alpha), b_out, hb, fc1.weight.dtype)


@torch.no_grad()
def layers_theta(
    fc1: nn.Linear, fc2: nn.Linear, act: str, alpha: float = 1.0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, float | None]:
    """theta (n, p) on the CPU with c_i = n a_i / alpha, and the output bias (None without one)."""
    W = fc1.weight.detach().to(device="cpu", dtype=dtype)  # (n, d)
    n = W.shape[0]
    c = fc2.weight.detach().to(device="cpu", dtype=dtype).reshape(n) * (n / alpha)  # (n,)
    cols = [c[:, None], W]
    if fc1.bias is not None:
        cols.append(fc1.bias.detach().to(device="cpu", dtype=dtype)[:, None])
    elif act != "relu":
        cols.append(torch.zeros(n, 1, dtype=dtype))
    b_out = None if fc2.bias is None else float(fc2.bias.detach().double().item())
    return torch.cat(cols, dim=1), b_out


def _act_of(unit: Unit) -> str:
    if isinstance(unit, ReLU):
        return "relu"
    if isinstance(unit, (Sigmoid, Tanh)):
        return unit.name
    raise ValueError(f"to_module supports ReLU, Sigmoid and Tanh units, not {unit.name}")


@torch.no_grad()
def to_module(
    mu: ParticleMeasure,
    *,
    alpha: float = 1.0,
    output_bias: float | None = None,
    hidden_bias: bool | None = None,
    dtype: torch.dtype | None = None,
    into: nn.Module | None = None,
    **layers,
) -> nn.Module:
    r"""The network of a measure: a_i = alpha c_i a^mu_i with mu = sum_i a^mu_i delta_{theta_i} (1/n uniform).

    Returns ``nn.Sequential(nn.Linear(d, n, bias=hidden_bias), act, nn.Linear(n, 1, bias=output_bias is
    not None))``, or writes the parameters into the two layers of ``into`` (found as by
    :func:`two_layers`; ``hidden=``/``output=`` name them) and returns it. ``hidden_bias`` defaults to
    whether the unit has a bias; ReLU units without a bias coordinate have none.
    """
    act = _act_of(mu.unit)
    theta = mu.theta.detach()
    has_b = not isinstance(mu.unit, ReLU) or mu.unit.bias  # act == "relu" exactly for ReLU units
    hb = has_b if hidden_bias is None else bool(hidden_bias)
    if hb and not has_b:
        raise ValueError("this ReLU measure has no bias coordinate; use hidden_bias=False or ReLU(d, bias=True)")
    d = mu.unit.d
    if not hb and act != "relu" and bool((theta[:, -1] != 0).any()):
        raise ValueError("hidden_bias=False but the particles have non-zero biases b")
    dtype = dtype or theta.dtype
    a = theta[:, 0] * mu.a * alpha  # (n,), in theta's precision before rounding to dtype
    if into is None:
        into = nn.Sequential(
            nn.Linear(d, mu.n, bias=hb), _ACT_BUILD[act](), nn.Linear(mu.n, 1, bias=output_bias is not None)
        )
        into = into.to(dtype)
    fc1, fc2, act_into = two_layers(into, layers.get("hidden"), layers.get("output"), layers.get("activation"))
    if act_into != act or fc1.weight.shape != (mu.n, d) or (fc1.bias is not None) != hb:
        raise ValueError(f"module layout does not match the measure: needs Linear({d}, {mu.n}, bias={hb}), {act}")
    fc1.weight.copy_(theta[:, 1 : 1 + d])
    if hb:
        fc1.bias.copy_(theta[:, 1 + d])
    fc2.weight.copy_(a[None, :])
    if fc2.bias is not None:
        fc2.bias.fill_(0.0 if output_bias is None else output_bias)
    return into
