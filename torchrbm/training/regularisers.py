"""Terms that change the likelihood gradient: Hinton's sparsity penalty and centring."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils.grad_mode import differentiable
from .._utils.validation import check_nonnegative_float
from ..models.protocol import EnergyModel


def check_sparsity(target: float, cost: float) -> float:
    """``cost`` as a float, after checking that it is a finite number >= 0 and ``target`` lies in (0, 1)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"sparsity_target must lie strictly between 0 and 1; found {target}")
    return check_nonnegative_float(cost, "sparsity_cost")


class SparsityTarget:
    """Hinton's (2010) sparsity penalty toward a mean hidden activation ``target``.

    A running estimate ``q <- decay q + (1 - decay) <E[h|v]>_batch`` (shape ``(n_hidden,)``) is
    kept, and ``cost (q - target)`` is added to the gradient with respect to each hidden
    unit's total input at the batch's mean ``<v>``, which reaches the hidden biases and
    incoming weights; for a dense RBM::

        g_b += cost (q - target),   g_W += cost <s(v)> (q - target)^T.
    """

    def __init__(self, target: float, cost: float, decay: float = 0.9) -> None:
        self.target = target
        self.cost = check_sparsity(target, cost)
        self.decay = decay
        self.q: Tensor | None = None

    def add_grad(self, model: EnergyModel, v: Tensor, h_mean: Tensor) -> None:
        batch_q = h_mean.mean(0)
        self.q = batch_q if self.q is None else self.decay * self.q + (1 - self.decay) * batch_q
        delta = self.cost * (self.q - self.target)
        add_autograd_grad(model, lambda: model.hidden_preactivation(v.mean(0, keepdim=True)), delta[None])


def add_autograd_grad(model: EnergyModel, output, grad_output: Tensor | None = None) -> None:
    """Add the gradient of ``output()`` (a scalar, or weighted by ``grad_output``) with
    respect to every trained parameter of ``model`` to the parameters' ``.grad``."""
    with torch.enable_grad(), differentiable():
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(output(), params, grad_outputs=grad_output, allow_unused=True)
    for param, grad in zip(params, grads, strict=True):
        if grad is not None:
            param.grad.add_(grad)


class Centering:
    """Centred gradients with running offsets (Melchior, Fischer & Wiskott 2016).

    The offsets are sliding averages of the mean visible statistic ``s(v)`` of the data
    (``v`` for binary units) and of the hidden means on data,
    ``offset <- (1 - rate) offset + rate <batch mean>``; the model stays an ordinary
    RBM, so every estimator applies unchanged.
    """

    def __init__(self, model: EnergyModel, data: Tensor, rate: float = 0.01) -> None:
        if not model.supports_centering:
            raise ValueError(f"centred gradients are not implemented for {type(model).__name__}; train it "
                             "without centered=True")
        self.rate = rate
        data = data.to(device=model.device, dtype=model.dtype)
        self.visible = model.visible.statistic(data).double().mean(0).to(model.dtype)
        self.hidden = torch.full((model.n_hidden,), 0.5, device=model.device, dtype=model.dtype)

    def apply(self, model: EnergyModel, grads: dict[str, Tensor], v: Tensor, h_mean: Tensor) -> None:
        self.visible.lerp_(model.visible.statistic(v).mean(0), self.rate)
        self.hidden.lerp_(h_mean.mean(0), self.rate)
        model.center_grad(grads, self.visible, self.hidden)
