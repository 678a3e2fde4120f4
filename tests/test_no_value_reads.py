"""A training step never reads a tensor's value back to Python, checked without a GPU.

On a GPU such a read (``.item()``, ``bool(t)``, ``float(t)``, ``.cpu()``, ``nonzero``) makes
the host wait for the device.  Tensors on PyTorch's ``meta`` device have shapes and dtypes
but no values, so every such read raises there: a step that runs to the end on ``meta``
tensors reads nothing back, whatever the device.  So does an ordinary copy of host memory to
a GPU, which reads nothing but still waits: no operation of a step after the first may take
a CPU tensor (other than a 0-dimensional one, which travels as a scalar) into a ``meta`` one.
(tests/test_cuda.py checks the same on a GPU with ``torch.cuda.set_sync_debug_mode("error")``
where one is present.)
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import torchrbm as tr
from torchrbm.training.regularisers import Centering, SparsityTarget
from torchrbm.training.step import step as _step

META = torch.device("meta")


class HostToDeviceCopies(TorchDispatchMode):
    """Records every operation that takes a CPU tensor of one or more dimensions into a ``meta`` result."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [*args, *(kwargs or {}).values()]
        from_host = any(isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dim() > 0 for t in inputs)
        outputs = out if isinstance(out, (tuple, list)) else [out]
        if from_host and any(isinstance(t, torch.Tensor) and t.device == META for t in outputs):
            self.copies.append(str(func))
        return out


def _steps(model, batch, sampler, *, sparsity=None, centering=None, extra_loss=None, steps: int = 3) -> None:
    """Run ``steps`` training steps on ``meta`` tensors; those after the first copy nothing from the host."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.SGD([p for _, p in named], lr=0.01, momentum=0.5)

    def step() -> None:
        _step(model, batch, sampler, None, named, {"W"}, 1e-4, sparsity, centering, extra_loss)
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        optimizer.step()
        model.constrain_()

    step()  # may move constants to the device once
    with HostToDeviceCopies() as recorder:
        for _ in range(steps - 1):
            step()
    assert model.W.device == META and model.W.grad.shape == model.W.shape
    assert recorder.copies == []


def test_a_copy_from_the_host_is_recorded():
    with HostToDeviceCopies() as recorder:
        torch.zeros(3, device=META).add_(torch.ones(3).to(META))
    assert recorder.copies == ["aten._to_copy.default"]


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


def test_hybrid_training_of_a_classification_rbm_reads_no_values():
    model = tr.ClassificationRBM(16, 3, 8, device=META)
    _steps(model, torch.empty(10, 19, device=META), tr.CD(k=1),
           extra_loss=lambda m, rows: 0.5 * m.discriminative_loss(rows))
