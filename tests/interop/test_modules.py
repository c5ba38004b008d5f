"""nn.Module <-> ParticleMeasure: every supported layout round-trips exactly and computes the same network."""

import pytest
import torch
from torch import nn

import wgflow as wg
from wgflow.interop import ModuleMeasure

ACTS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
D, N = 5, 37  # n not a power of two: the 1/n scaling is not exact in binary


def _seq(act, hidden_bias, output_bias, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, N, bias=hidden_bias), ACTS[act](), nn.Linear(N, 1, bias=output_bias)).to(dtype)


class Named(nn.Module):
    def __init__(self, act="tanh"):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, N), nn.Linear(N, 1)
        self.act = act

    def forward(self, x):
        return self.fc2(getattr(torch, self.act)(self.fc1(x)))


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


LAYOUTS = [(a, hb, ob) for a in ACTS for hb in (True, False) for ob in (True, False)]


@pytest.mark.parametrize("act,hb,ob", LAYOUTS)
@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_sequential_round_trip_is_exact_and_outputs_agree(act, hb, ob, alpha):
    model = _seq(act, hb, ob)
    mu = wg.interop.from_module(model, alpha=alpha)
    assert isinstance(mu, wg.ParticleMeasure) and mu.n == N and mu.unit.name == act
    expected_p = 1 + D + (1 if (hb or act != "relu") else 0)
    assert mu.p == expected_p
    # c_i = n a_i / alpha, w and b unchanged
    a = model[2].weight.detach().double().reshape(-1)
    torch.testing.assert_close(mu.theta[:, 0], a * N / alpha, rtol=1e-15, atol=0)
    assert torch.equal(mu.theta[:, 1 : 1 + D], model[0].weight.detach().double())
    x = torch.randn(64, D)
    want = model(x).squeeze(1).double()
    torch.testing.assert_close(mu.network(x), want, rtol=1e-5, atol=1e-6)
    if not ob:  # without an output bias the measure alone is the network
        torch.testing.assert_close(mu(x, alpha), want, rtol=1e-5, atol=1e-6)
    back = mu.to_module()
    assert [p.shape for p in back.parameters()] == [p.shape for p in model.parameters()]
    for p, q in zip(back.parameters(), model.parameters()):
        assert p.dtype == q.dtype and torch.equal(p, q)  # bitwise
    assert torch.equal(back(x), model(x))


def test_relu_bias_is_the_last_coordinate_of_w():
    model = _seq("relu", True, False)
    mu = wg.interop.from_module(model)
    assert isinstance(mu.unit, wg.ReLU) and mu.unit.bias
    assert torch.equal(mu.theta[:, -1], model[0].bias.detach().double())


def test_measure_to_module_to_measure_round_trip_float64():
    unit = wg.Sigmoid(D)
    theta = unit.init(N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mu = wg.ParticleMeasure(theta, unit)
    net = wg.interop.to_module(mu, alpha=2.0)
    assert net[0].weight.dtype == torch.float64
    mu2 = wg.interop.from_module(net, alpha=2.0)
    assert torch.equal(mu2.theta[:, 1:], theta[:, 1:])
    torch.testing.assert_close(mu2.theta, theta, rtol=4e-16, atol=0)
    x = torch.randn(32, D, dtype=torch.float64)
    torch.testing.assert_close(net(x).squeeze(1), mu(x, 2.0), rtol=1e-13, atol=1e-14)


def test_named_layers_and_write_back_into_the_users_module():
    model = Named("tanh")
    with pytest.raises(ValueError, match="activation"):
        wg.interop.from_module(model, hidden="fc1", output="fc2")  # tanh is called functionally: say which
    mu = wg.interop.from_module(model, hidden="fc1", output="fc2", activation="tanh")
    assert isinstance(mu, ModuleMeasure) and mu.unit.name == "tanh"
    x = torch.randn(16, D)
    torch.testing.assert_close(mu.network(x), model(x).squeeze(1).double(), rtol=1e-5, atol=1e-6)
    # the module's two Linear layers are also found without names
    assert torch.equal(wg.interop.from_module(model, activation=torch.tanh).theta, mu.theta)
    other = Named("tanh")
    out = mu.to_module(into=other, activation="tanh")
    assert out is other
    for p, q in zip(other.parameters(), model.parameters()):
        assert torch.equal(p, q)


def test_moved_particles_change_the_module():
    model = _seq("relu", True, True)
    mu = wg.interop.from_module(model)
    moved = mu.with_theta(mu.theta * 2)  # 2-homogeneous: the output scales by 4 (bias aside)
    net = wg.interop.to_module(moved, output_bias=mu.output_bias, dtype=torch.float64)
    x = torch.randn(8, D, dtype=torch.float64)
    b = mu.output_bias
    torch.testing.assert_close(net(x).squeeze(1) - b, 4 * (mu.network(x) - b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "bad,match",
    [
        (nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), "unsupported activation"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), "Linear\\(n, 1\\)"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU()), "expected nn.Sequential"),
        (nn.Conv1d(1, 1, 1), "nn.Linear layers"),
    ],
)
def test_unsupported_layouts_fail_with_one_line(bad, match):
    with pytest.raises(ValueError, match=match) as e:
        wg.interop.from_module(bad)
    assert "\n" not in str(e.value)


def test_to_module_refuses_units_it_cannot_express():
    mu = wg.ParticleMeasure(torch.randn(4, 4, dtype=torch.float64), wg.measures.RBFSphere(3))
    with pytest.raises(ValueError, match="ReLU, Sigmoid and Tanh"):
        wg.interop.to_module(mu)
    relu = wg.ParticleMeasure(torch.randn(4, 4, dtype=torch.float64), wg.ReLU(3))
    with pytest.raises(ValueError, match="no bias coordinate"):
        wg.interop.to_module(relu, hidden_bias=True)


@pytest.mark.parametrize(
    "names", [dict(hidden="fc1", output="fc2"), dict(hidden="0", output="nope"), dict(hidden=3, output="2")]
)
def test_layer_names_the_module_lacks_are_a_value_error_naming_its_layers(names):
    # issue 30: a Sequential has layers "0", "1", "2"; a name it lacks used to fail inside torch's get_submodule
    seq = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"names no layer of Sequential; its layers are 0, 1, 2") as e:
        wg.interop.from_module(seq, **names)
    assert "\n" not in str(e.value)
    assert wg.interop.from_module(seq, hidden="0", output="2").theta.shape == (4, 4)
