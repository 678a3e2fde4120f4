"""The matrix-product kernels agree with float64 products and keep autograd working."""

import pytest
import torch

from torchrbm._utils import kernels


def _float64_addmm(bias, x, weight):
    return torch.addmm(bias.double(), x.double(), weight.double())


@pytest.fixture(params=["onednn", "torch"])
def route(request, monkeypatch):
    """Send every float32 product to oneDNN (threshold 0) or none (an infinite threshold)."""
    monkeypatch.setattr(kernels, "ONEDNN_MIN_MACS", 0 if request.param == "onednn" else float("inf"))
    return request.param


@pytest.mark.parametrize("transposed_x", [False, True])
@pytest.mark.parametrize("bias_rows", [0, 1, 7])
def test_addmm_matches_float64(route, transposed_x, bias_rows):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(7, 30, generator=gen)
    if transposed_x:  # same values, column-major memory
        x = x.T.contiguous().T
    weight = torch.randn(30, 11, generator=gen)
    bias = torch.randn(*([bias_rows] if bias_rows else []), 11, generator=gen)
    result = kernels.addmm(bias, x, weight)
    assert result.shape == (7, 11) and result.dtype == torch.float32
    torch.testing.assert_close(result.double(), _float64_addmm(bias, x, weight), rtol=1e-5, atol=1e-5)


def test_mm_matches_float64_for_a_transposed_left_operand(route):
    gen = torch.Generator().manual_seed(1)
    v, h = torch.rand(200, 78, generator=gen), torch.rand(200, 50, generator=gen)
    result = kernels.mm(v.T, h)
    torch.testing.assert_close(result.double(), v.double().T @ h.double(), rtol=1e-5, atol=1e-4)


def test_other_dtypes_and_empty_inputs_fall_back_to_torch():
    x, weight, bias = torch.rand(3, 4, dtype=torch.float64), torch.rand(4, 2, dtype=torch.float64), torch.rand(2)
    assert torch.equal(kernels.addmm(bias.double(), x, weight), torch.addmm(bias.double(), x, weight))
    assert kernels.addmm(bias, torch.rand(0, 4), weight.float()).shape == (0, 2)
    assert torch.equal(kernels.mm(torch.rand(5, 0), torch.rand(0, 3)), torch.zeros(5, 3))


def test_gradients_flow_through_addmm(route):
    x = torch.rand(5, 4)
    weight = torch.randn(4, 3, requires_grad=True)
    bias = torch.zeros(3, requires_grad=True)
    kernels.addmm(bias, x, weight).sum().backward()
    torch.testing.assert_close(weight.grad, x.sum(0)[:, None].expand(4, 3))
    torch.testing.assert_close(bias.grad, torch.full((3,), 5.0))


def test_large_float32_products_take_onednn_and_small_ones_torch(monkeypatch):
    calls = []
    linear = kernels._onednn_linear()
    if linear is None:  # a PyTorch built without oneDNN: everything goes to torch
        assert not kernels._use_onednn(torch.rand(300, 300), torch.rand(300, 300))
        return
    monkeypatch.setattr(kernels, "_onednn_linear", lambda: lambda *args: calls.append(1) or linear(*args))
    kernels.mm(torch.rand(4, 5), torch.rand(5, 6))
    assert not calls
    big = kernels.mm(torch.rand(200, 784), torch.rand(784, 50))
    assert calls and big.shape == (200, 50)
