"""The matrix products of sampling and training, on the fastest kernel torch offers for them.

Almost all of an RBM's time goes into three products per Gibbs step:
``b + v W``, ``a + h W^T`` and the weight statistic ``V^T H``.  On x86 CPUs
PyTorch sends float32 products to MKL, whose kernels are about half as fast
as oneDNN's on AMD processors (and no faster on Intel ones), while bfloat16
products already go to oneDNN.  :func:`addmm` and :func:`mm` use oneDNN's
linear-layer primitive for float32 products on the CPU when it is there, nothing
needs a gradient and the product is large enough (:data:`ONEDNN_MIN_MACS`), and
``torch.addmm`` / ``torch.mm`` otherwise.  Both give the
float32 product, rounded by a different summation order: results agree to
float32 rounding, not bit for bit.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor


@functools.cache
def _onednn_linear():
    """oneDNN's ``linear(x, weight, bias) = x weight^T + bias``, or ``None`` if this torch lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if linear is None:
        return None
    try:
        probe = linear(torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4), "none", [], "")
    except (RuntimeError, NotImplementedError):
        return None
    return linear if torch.equal(probe, torch.full((2, 4), 3.0)) else None


#: Smallest product (multiply-adds) sent to oneDNN: below it, its fixed cost per call (about
#: 13 microseconds against MKL's 4) outweighs its faster arithmetic.
ONEDNN_MIN_MACS = 2**21


def _use_onednn(x: Tensor, weight: Tensor, *others: Tensor) -> bool:
    if not torch.backends.mkldnn.enabled or x.ndim != 2 or weight.ndim != 2:
        return False
    if x.shape[0] * x.shape[1] * weight.shape[1] < ONEDNN_MIN_MACS:
        return False
    tensors = (x, weight, *others)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return False
    return (
        x.device.type == "cpu"
        and all(t.dtype == torch.float32 and t.device == x.device and t.ndim <= 2 for t in tensors)
        and _onednn_linear() is not None
    )


def addmm(bias: Tensor, x: Tensor, weight: Tensor) -> Tensor:
    """``bias + x @ weight`` for 2-D ``x`` (n, k) and ``weight`` (k, m); ``bias`` (m,) or (n, m)."""
    if _use_onednn(x, weight, bias):
        if bias.ndim == 1:
            return _onednn_linear()(x, weight.T, bias, "none", [], "")
        return _onednn_linear()(x, weight.T, None, "none", [], "").add_(bias)
    return torch.addmm(bias, x, weight)


def mm(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight`` for 2-D ``x`` (n, k) and ``weight`` (k, m)."""
    if _use_onednn(x, weight):
        return _onednn_linear()(x, weight.T, None, "none", [], "")
    return torch.mm(x, weight)


def affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``bias + x @ weight`` for any number of leading dimensions, in ``bias``' dtype.

    A ``weight`` of lower precision (mixed precision) rounds ``x`` to its dtype for the product.
    """
    if weight.dtype != bias.dtype:
        return torch.add(bias, x.to(weight.dtype) @ weight)
    if x.ndim == 2:
        return addmm(bias, x, weight)
    return x @ weight + bias
