"""A training step never reads a tensor's value back to Python, checked without a GPU.

On a GPU such a read (``.item()``, ``bool(t)``, ``float(t)``, ``.cpu()``, ``nonzero``) makes
the host wait for the device.  Tensors on PyTorch's ``meta`` device have shapes and dtypes
but no values, so every such read raises there: a step that runs to the end on ``meta``
tensors reads nothing back, whatever the device.  (tests/test_cuda.py checks the same on a
GPU with ``torch.cuda.set_sync_debug_mode("error")`` where one is present.)
"""

import pytest
import torch

import torchrbm as tr
from torchrbm.train import _step
from torchrbm.updates import Centering, SparsityTarget

META = torch.device("meta")


def _steps(model, batch, sampler, *, sparsity=None, centering=None, steps: int = 2) -> None:
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.SGD([p for _, p in named], lr=0.01, momentum=0.5)
    for _ in range(steps):
        _step(model, batch, sampler, None, named, {"W"}, 1e-4, sparsity, centering)
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        optimizer.step()
        model.constrain_()
    assert model.W.device == META and model.W.grad.shape == model.W.shape


@pytest.mark.parametrize("sampler", [tr.CD(k=2), tr.PCD(n_chains=6, k=2), tr.PT(n_temps=3, n_chains=6)],
                         ids=["cd", "pcd", "pt"])
@pytest.mark.parametrize("extra", ["plain", "sparsity", "centering"])
def test_binary_rbm_step_reads_no_values(sampler, extra):
    model = tr.RBM(20, 8, device=META)
    batch = torch.empty(10, 20, device=META)
    _steps(model, batch, sampler, sparsity=SparsityTarget(0.1, 0.1) if extra == "sparsity" else None,
           centering=Centering(model, batch) if extra == "centering" else None)


@pytest.mark.parametrize("visible, hidden", [
    ("gaussian", "bernoulli"), ("bernoulli", "relu"), ("spin", "spin"),
    ({"name": "softmax", "size": 4}, "bernoulli"), ("bernoulli", {"name": "softmax", "size": 4}),
])
def test_other_unit_types_step_reads_no_values(visible, hidden):
    model = tr.RBM(20, 8, visible=visible, hidden=hidden, device=META)
    _steps(model, torch.empty(10, 20, device=META), tr.PCD(n_chains=6))


@pytest.mark.parametrize("sampler", [tr.CD(k=1), tr.PCD(n_chains=6)], ids=["cd", "pcd"])
def test_conditional_rbm_step_reads_no_values(sampler):
    model = tr.ConditionalRBM(12, 8, n_context=24, device=META)
    _steps(model, torch.empty(10, 36, device=META), sampler)


def test_convolutional_rbm_step_reads_no_values():
    model = tr.ConvRBM((12, 12), n_filters=4, filter_size=5, pool=2, device=META)
    _steps(model, torch.empty(10, 144, device=META), tr.PCD(n_chains=6))
