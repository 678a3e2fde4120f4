"""One training step: turn positive and negative statistics into the gradient of a mini-batch.

For a mini-batch ``B`` and negative samples ``S`` from a sampler, the gradient of
the negative mean log-likelihood that is handed to the ``torch.optim`` optimizer is

    g = <dF/d theta>_B - <dF/d theta>_S  (+ weight decay + sparsity terms),

so that plain SGD gives the classic update ``dW = lr (<v h^T>_data - <v h^T>_model)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._utils.validation import trusted_inputs
from ..models.base import uniform_coefficients
from ..models.protocol import EnergyModel
from ..sampling.samplers import NegativePhase, Sampler
from .regularisers import Centering, SparsityTarget, add_autograd_grad
from .rows import chains_for_rows, given, split_rows, split_sample_weight


@torch.no_grad()
@trusted_inputs()
def step(model: EnergyModel, batch: Tensor, sampler: Sampler, generator: torch.Generator | None,
         named: list[tuple[str, Tensor]], weight_names: set[str], weight_decay: float,
         sparsity: SparsityTarget | None, centering: Centering | None,
         extra_loss: Callable[[Any, Tensor], Tensor] | None = None, *, weighted: bool = False,
         l1_squared: float = 0.0, l2_fields: float = 0.0) -> None:
    """Set ``.grad`` of every parameter in ``named`` for one mini-batch of stored rows (visible rows, then
    any other inputs the model takes per row, :mod:`~torchrbm.training.rows`).

    Weight decay adds ``weight_decay * W`` to the gradient of each weight in ``weight_names``, and
    ``l1_squared`` the L1² penalty's gradient to that of ``W`` (:func:`l1_squared_grad`), and ``l2_fields *
    a`` to that of the visible biases ``a``.  Runs inside
    :func:`~torchrbm.validation.trusted_inputs`: the batch was checked on its way in, and checking its values
    again (also in ``extra_loss``) would make a GPU wait.
    """
    batch, sample_weight = split_sample_weight(batch, weighted)
    v, inputs = split_rows(model, batch)
    row_model = given(model, inputs)
    if sampler.starts_from_data:
        h_mean, h_sample = row_model.hidden_step(v, generator)
    else:
        h_mean, h_sample = row_model.prob_h(v), None
    chain_model, chain_inputs = chains_for_rows(model, row_model, inputs, sampler)
    negative = sampler.negative_phase(chain_model, v, h_sample, generator)
    grads = model.free_energy_grad(*_stacked(v, h_mean, negative, sample_weight),
                                   **{name: torch.cat([value, chain_inputs[name]]) for name, value in inputs.items()})
    if centering is not None:
        centering.apply(model, grads, v, h_mean)
    set_grads(model, grads, named, weight_names, weight_decay, l1_squared, l2_fields)
    if sparsity is not None:
        sparsity.add_grad(model, v, h_mean)
    if extra_loss is not None:
        add_autograd_grad(model, lambda: extra_loss(model, batch))


def set_grads(model: EnergyModel, grads: dict[str, Tensor], named: list[tuple[str, Tensor]], weight_names: set[str],
              weight_decay: float, l1_squared: float, l2_fields: float) -> None:
    """Set ``.grad`` of every parameter in ``named`` to its entry of ``grads`` plus the penalties' gradients:
    ``weight_decay * W`` for each weight in ``weight_names``, the L1² penalty's for ``W``
    (:func:`l1_squared_grad`) and ``l2_fields * a`` for the visible biases ``a``."""
    for name, param in named:
        grad = grads[name]
        if weight_decay and name in weight_names:
            grad.add_(param, alpha=weight_decay)
        if l1_squared and name == "W":
            grad.add_(l1_squared_grad(param, l1_squared))
        if l2_fields and name == model.visible_bias_name:
            grad.add_(param, alpha=l2_fields)
        param.grad = grad


def l1_squared_grad(weights: Tensor, strength: float) -> Tensor:
    """The gradient of ``strength / 2 * sum_j (sum_i |W_ij|)^2``, the sums over all axes but the last
    (the hidden units'): ``strength * (sum_i' |W_i'j|) * sign(W_ij)``."""
    per_unit = weights.abs().sum(tuple(range(weights.ndim - 1)))
    return weights.sign().mul_(per_unit * strength)


def _stacked(v: Tensor, h_mean: Tensor, negative: NegativePhase,
             sample_weight: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Data and model statistics stacked, with their contrastive coefficients.

    The visible states are stacked column by column (a transposed layout), so
    that the weight statistic ``V^T H`` reads a contiguous ``V^T``.
    """
    visible = torch.cat([v.T, negative.v.T], 1).T
    return visible, torch.cat([h_mean, negative.h]), contrastive_coefficients(v, negative, sample_weight)


def contrastive_coefficients(v_data: Tensor, negative: NegativePhase, sample_weight: Tensor | None = None) -> Tensor:
    """Coefficients ``(+1/N, ..., +1/N, -w_1, ..., -w_M)`` of data and model samples stacked in that
    order (``w_m``: the model samples' weights, ``1/M`` by default; with the data rows' ``sample_weight``
    ``s_n``, ``s_n / sum s`` instead of ``1/N``), with which
    ``sum_n c_n dF(v_n)/d theta = <dF/d theta>_data - <dF/d theta>_model``."""
    n_data, n_model = v_data.shape[0], negative.v.shape[0]
    if sample_weight is None:
        data_part = uniform_coefficients(n_data, v_data)
    else:  # the batch's weighted mean (a batch of zero weights adds no data term)
        data_part = sample_weight.to(v_data.dtype) / sample_weight.sum().clamp(min=torch.finfo(v_data.dtype).tiny)
    if negative.sample_weight is None:
        model_part = uniform_coefficients(n_model, v_data, total=-1.0)
    else:
        model_part = negative.sample_weight.to(v_data.dtype).neg()
    return torch.cat([data_part, model_part])
