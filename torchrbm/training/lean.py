"""The lean training step: an RBM's update without the general step's bookkeeping.

For small products (a batch of 10 rows, 64 visible and 100 hidden units, say) a step's time is the
fixed cost of each PyTorch call, not arithmetic: the general :func:`~torchrbm.training.step.step`
spends about 240 us where a plain loop of the same products spends 70 us.  When a run needs none of
what the general step provides (see :func:`lean_step_applies`), each update instead calls the unit
types and the products directly, in the same order and with the same random draws as the general
step.  For dense visible units and unweighted rows it accumulates the gradient without stacking data
and model rows:

    g_W = (1/M) sum_m s(v~_m) E[h | v~_m]^T - (1/N) sum_n s(v_n) E[h | v_n]^T,
    g_a = mean_m s(v~_m) - mean_n s(v_n),     g_b = mean_m E[h | v~_m] - mean_n E[h | v_n],

for the batch ``v`` (``N`` rows) and the sampler's states ``v~`` (``M`` rows); with sample weights, or
units that compute their own product with the weights (Potts), the model's
:meth:`~torchrbm.RBM.interaction_grads` of the stacked rows gives it.  Penalties are added as the
general step adds them.  The gradient is the general step's, summed in another order: parameters agree
to float rounding, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._utils import kernels
from ..models.rbm import RBM
from ..sampling.samplers import CD, PCD, NegativePhase
from ..units import Units
from .precision import matmul_dtype
from .rows import split_sample_weight
from .step import contrastive_coefficients, set_grads

#: The largest product (rows x visible x hidden units) of a lean step with dense visible units; above it
#: the products' own time dominates, and the general step's kernels (:mod:`torchrbm._utils.kernels`)
#: serve them better.
LEAN_MAX_MACS = kernels.ONEDNN_MIN_MACS


def lean_step_applies(state: Any) -> bool:
    """Whether the run of ``state`` (a :class:`~torchrbm.training.state.TrainingState`) can take lean steps:
    a plain :class:`~torchrbm.RBM` with no trained unit parameters or fixed biases and the visible units'
    own gradient every unit type has, trained by CD-k or PCD-k in one process, with no centring, sparsity
    target or extra loss, in the parameters' own precision; with dense visible units, products below
    :data:`LEAN_MAX_MACS`."""
    model, settings = state.model, state.settings
    if type(model) is not RBM or model.fixed_parameters() or not _inherited(model.visible, "free_energy_grads"):
        return False
    if any(p.requires_grad for units in (model.visible, model.hidden) for p in units.parameters()):
        return False
    if type(settings.sampler) not in (CD, PCD) or matmul_dtype(settings.precision) is not None:
        return False
    if state.centering or state.sparsity or settings.extra_loss or state.world_size > 1:
        return False
    rows = max(settings.batch_size, getattr(settings.sampler, "n_chains", 0))
    return not model.visible.dense or rows * model.n_visible * model.n_hidden < LEAN_MAX_MACS


def _inherited(units: Units, method: str) -> bool:
    """Whether ``units`` has ``method`` as every unit type does."""
    return getattr(type(units), method) is getattr(Units, method)


@torch.no_grad()
def lean_step(model: RBM, batch: Tensor, sampler: CD | PCD, generator: torch.Generator | None,
              named: list[tuple[str, Tensor]], weight_names: set[str], weight_decay: float, *,
              weighted: bool = False, l1_squared: float = 0.0, l2_fields: float = 0.0) -> None:
    """Set ``.grad`` of ``W``, ``a`` and ``b`` for ``batch`` (checked rows on the model's device and dtype,
    each followed by its sample weight if ``weighted``): the general step's gradient for the same random
    draws, with the same penalties (see :func:`~torchrbm.training.step.step`), without its bookkeeping."""
    v, sample_weight = split_sample_weight(batch, weighted)
    visible, hidden = model.visible, model.hidden
    W, a, b = model.W.detach(), model.a.detach(), model.b.detach()  # no autograd bookkeeping in the products

    def hidden_input(x: Tensor) -> Tensor:
        return visible.times_weights(x, W, b)

    def visible_draw(h: Tensor) -> Tensor:
        return visible.sample(visible.weights_times(hidden.statistic(h), W, a), generator)

    if sampler.starts_from_data:  # CD-k: from the batch's hidden sample
        h_data, h = hidden.mean_and_sample(hidden_input(v), generator)
        for step in range(sampler.k):
            chains = visible_draw(h)
            if step < sampler.k - 1:
                h = hidden.sample(hidden_input(chains), generator)
    else:  # PCD-k: from the persistent chains
        h_data = hidden.mean(hidden_input(v))
        chains = sampler._current_chains(model, sampler.n_chains, generator)
        for _ in range(sampler.k):
            chains = visible_draw(hidden.sample(hidden_input(chains), generator))
        sampler.chains = chains
    h_model = hidden.mean(hidden_input(chains))
    if visible.dense and sample_weight is None and _inherited(visible, "self_energy_bias_grad"):
        grads = _dense_grads(visible.statistic(v), h_data, visible.statistic(chains), h_model)
    else:
        coefficients = contrastive_coefficients(v, NegativePhase(chains, h_model), sample_weight)
        grads = model.interaction_grads(torch.cat([v, chains]), torch.cat([h_data, h_model]), coefficients)
    set_grads(model, grads, named, weight_names, weight_decay, l1_squared, l2_fields)


def _dense_grads(s_data: Tensor, h_data: Tensor, s_model: Tensor, h_model: Tensor) -> dict[str, Tensor]:
    """The gradient of ``W``, ``a`` and ``b`` from unstacked data and model statistics (the formulas above)."""
    n, m = s_data.shape[0], s_model.shape[0]
    return {
        "W": torch.addmm(torch.mm(s_model.T, h_model), s_data.T, h_data, beta=1 / m, alpha=-1 / n),
        "a": s_model.sum(0).mul_(1 / m).sub_(s_data.sum(0), alpha=1 / n),
        "b": h_model.sum(0).mul_(1 / m).sub_(h_data.sum(0), alpha=1 / n),
    }
