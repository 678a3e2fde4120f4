"""The lean training step: a small RBM's update without the general step's bookkeeping.

For small products (a batch of 10 rows, 64 visible and 100 hidden units, say) a step's time is the
fixed cost of each PyTorch call, not arithmetic: the general :func:`~torchrbm.training.step.step`
spends about 240 us where a plain loop of the same products spends 70 us.  When a run needs none of
what the general step provides (see :func:`lean_step_applies`), each update instead calls the unit
types and the products directly, in the same order and with the same random draws as the general
step, and accumulates the gradient without stacking data and model rows:

    g_W = (1/M) sum_m s(v~_m) E[h | v~_m]^T - (1/N) sum_n s(v_n) E[h | v_n]^T  (+ weight decay W),
    g_a = mean_m s(v~_m) - mean_n s(v_n),     g_b = mean_m E[h | v~_m] - mean_n E[h | v_n],

for the batch ``v`` (``N`` rows) and the sampler's states ``v~`` (``M`` rows).  The gradient is the
general step's, summed in another order: parameters agree to float rounding, not bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._utils import kernels
from ..models.rbm import RBM
from ..sampling.samplers import CD, PCD
from ..units import Units
from .precision import matmul_dtype

#: The largest product (rows x visible x hidden units) of a lean step; above it the products' own time
#: dominates, and the general step's kernels (:mod:`torchrbm._utils.kernels`) serve them better.
LEAN_MAX_MACS = kernels.ONEDNN_MIN_MACS


def lean_step_applies(state: Any) -> bool:
    """Whether the run of ``state`` (a :class:`~torchrbm.training.state.TrainingState`) can take lean steps:
    a plain :class:`~torchrbm.RBM` with dense visible units, no unit parameters or fixed biases, the bias
    gradient every unit type has and nothing to constrain after an update (no gauge, no bounds), trained
    by CD-k or PCD-k on unweighted rows in one process, with no centring, sparsity target, extra loss,
    L1² or field penalty, in the parameters' own precision, and products below :data:`LEAN_MAX_MACS`."""
    model, settings = state.model, state.settings
    if type(model) is not RBM or not model.visible.dense or model.fixed_parameters():
        return False
    if any(p.requires_grad for units in (model.visible, model.hidden) for p in units.parameters()):
        return False
    if not all(_inherited(model.visible, name) for name in ("self_energy_bias_grad", "free_energy_grads", "gauge_")):
        return False
    if not all(_inherited(units, "constrain_") for units in (model.visible, model.hidden)):
        return False
    if type(settings.sampler) not in (CD, PCD) or matmul_dtype(settings.precision) is not None:
        return False
    plain = not (state.weighted or state.centering or state.sparsity or settings.extra_loss
                 or settings.l1_squared or settings.l2_fields or state.world_size > 1)
    rows = max(settings.batch_size, getattr(settings.sampler, "n_chains", 0))
    return plain and rows * model.n_visible * model.n_hidden < LEAN_MAX_MACS


def _inherited(units: Units, method: str) -> bool:
    """Whether ``units`` has ``method`` as every unit type does (the bias gradient above; no constraint)."""
    return getattr(type(units), method) is getattr(Units, method)


@torch.no_grad()
def lean_step(model: RBM, v: Tensor, sampler: CD | PCD, generator: torch.Generator | None,
              weight_decay: float) -> None:
    """Set ``.grad`` of ``W``, ``a`` and ``b`` for the batch ``v`` (checked rows on the model's device and
    dtype): the general step's gradient for the same random draws, without its bookkeeping."""
    visible, hidden = model.visible, model.hidden
    W, a, b = model.W.detach(), model.a.detach(), model.b.detach()  # no autograd bookkeeping in the products

    def hidden_input(x: Tensor) -> Tensor:
        return torch.addmm(b, visible.statistic(x), W)

    def visible_draw(h: Tensor) -> Tensor:
        return visible.sample(torch.addmm(a, hidden.statistic(h), W.T), generator)

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
    s_data, s_model = visible.statistic(v), visible.statistic(chains)
    n, m = v.shape[0], chains.shape[0]
    grad_w = torch.addmm(torch.mm(s_model.T, h_model), s_data.T, h_data, beta=1 / m, alpha=-1 / n)
    if weight_decay:
        grad_w.add_(W, alpha=weight_decay)
    model.W.grad = grad_w
    model.a.grad = s_model.sum(0).mul_(1 / m).sub_(s_data.sum(0), alpha=1 / n)
    model.b.grad = h_model.sum(0).mul_(1 / m).sub_(h_data.sum(0), alpha=1 / n)
