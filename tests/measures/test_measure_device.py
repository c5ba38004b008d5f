"""ParticleMeasure.to moves and casts like torch.Tensor.to (device or dtype first), .device/.dtype, a short repr."""

import pytest
import torch

import wgflow as wg


@pytest.fixture
def mu():
    g = torch.Generator().manual_seed(0)
    unit = wg.ReLU(3)
    w = torch.rand(10, generator=g, dtype=torch.float64) + 0.1
    return wg.ParticleMeasure(unit.init(10, generator=g, dtype=torch.float64, kind="sphere"), unit, w / w.sum())


def test_to_takes_a_device_or_a_dtype_positionally(mu):
    assert mu.to("cpu").device == torch.device("cpu")
    assert mu.to(torch.device("cpu")).dtype == torch.float64
    m32 = mu.to(torch.float32)
    assert m32.dtype == torch.float32 and m32.weights is not None and m32.weights.dtype == torch.float32
    torch.testing.assert_close(m32.theta, mu.theta.float())
    assert mu.to("cpu", torch.float32).dtype == torch.float32
    # keyword uses (flows.train moves a measure with device=) keep working
    both = mu.to(device="cpu", dtype=torch.float32)
    assert both.dtype == torch.float32 and both.device.type == "cpu"
    assert torch.equal(mu.to(dtype=torch.float64).theta, mu.theta)
    assert mu.to(torch.float32).unit is mu.unit


def test_device_and_dtype_are_the_positions(mu):
    assert mu.device == mu.theta.device and mu.dtype == mu.theta.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.cuda
def test_to_cuda_and_back(mu):
    on = mu.to("cuda")
    assert on.device.type == "cuda" and on.weights is not None and on.weights.device.type == "cuda"
    assert torch.equal(on.to("cpu").theta, mu.theta)


def test_repr_is_short_and_html_summarises(mu):
    r = repr(mu)
    assert len(r) < 300 and r.startswith("ParticleMeasure(n=10, p=4, unit=ReLU(d=3)")
    assert "weights=given" in r and "device=cpu" in r
    html = mu._repr_html_()
    c = mu.theta[:, 0]
    assert "<table>" in html and f"{float(c.min()):.3g} … {float(c.max()):.3g}" in html
