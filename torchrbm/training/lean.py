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


def has_constraints(model: RBM) -> bool:
    """Whether ``model.constrain_()`` has work after an update of a lean run: unit types that keep their
    parameters in range, or visible units with a gauge (Potts: zero-sum)."""
    units = (model.visible, model.hidden)
    return not (all(_inherited(u, "constrain_") for u in units) and _inherited(model.visible, "gauge_"))


def _inherited(units: Units, method: str) -> bool:
    """Whether ``units`` has ``method`` as every unit type does."""
    return getattr(type(units), method) is getattr(Units, method)


class LeanStep:
    """The lean step of one run, prepared once for many batches: the parameters' detached aliases (which
    share their storage, so that in-place updates reach them), the products and the penalties."""

    def __init__(self, model: RBM, sampler: CD | PCD, generator: torch.Generator | None,
                 named: list[tuple[str, Tensor]], weight_names: set[str], weight_decay: float, *,
                 weighted: bool = False, l1_squared: float = 0.0, l2_fields: float = 0.0) -> None:
        self.model, self.sampler, self.generator = model, sampler, generator
        self.visible, self.hidden = model.visible, model.hidden
        self.W, self.a, self.b = model.W.detach(), model.a.detach(), model.b.detach()  # no autograd bookkeeping
        self.W_T = self.W.T if model.visible.dense else None
        self.penalties = (named, weight_names, weight_decay, l1_squared, l2_fields)
        self.weighted = weighted
        self.unstacked = model.visible.dense and not weighted and _inherited(model.visible, "self_energy_bias_grad")
        self._own_chains: Tensor | None = None  # the chains (or kept hidden states) this step left in the sampler
        self._ones: dict[int, Tensor] = {}

    def hidden_input(self, x: Tensor) -> Tensor:
        if self.visible.dense:  # products below kernels' oneDNN threshold: torch's own, without the dispatch
            return torch.addmm(self.b, self.visible.statistic(x), self.W)
        return self.visible.times_weights(x, self.W, self.b)

    def visible_draw(self, h: Tensor) -> Tensor:
        s = self.hidden.statistic(h)
        pre = torch.addmm(self.a, s, self.W_T) if self.visible.dense else self.visible.weights_times(s, self.W, self.a)
        return self.visible.sample(pre, self.generator)

    def ones(self, n: int) -> Tensor:
        """``n`` ones (kept for the next step)."""
        if n not in self._ones:
            self._ones[n] = self.W.new_ones(n)
        return self._ones[n]

    def __call__(self, batch: Tensor) -> None:
        """Set ``.grad`` of ``W``, ``a`` and ``b`` for ``batch`` (checked rows on the model's device and dtype,
        each followed by its sample weight if the run is weighted): the general step's gradient for the same
        random draws, with the same penalties (see :func:`~torchrbm.training.step.step`).  Call it with
        gradients off (``torch.no_grad()``), once for the whole epoch: the chains' first draw may involve
        the parameters."""
        v, sample_weight = split_sample_weight(batch, self.weighted)
        hidden, sampler, generator = self.hidden, self.sampler, self.generator
        if sampler.starts_from_data:  # CD-k: from the batch's hidden sample
            h_data, h = hidden.mean_and_sample(self.hidden_input(v), generator)
            for step in range(sampler.k):
                chains = self.visible_draw(h)
                if step < sampler.k - 1:
                    h = hidden.sample(self.hidden_input(chains), generator)
            h_model = hidden.mean(self.hidden_input(chains))
        elif sampler.keep_hidden:  # PCD-k from the chains' kept hidden states
            h_data = hidden.mean(self.hidden_input(v))
            h = sampler.hidden if sampler.hidden is self._own_chains else sampler.current_hidden(self.model)
            chains = self.model.sample_from_visible_biases(sampler.n_chains, generator) if h is None \
                else self.visible_draw(h)
            for _ in range(sampler.k - 1):
                chains = self.visible_draw(hidden.sample(self.hidden_input(chains), generator))
            h_model, sampler.hidden = hidden.mean_and_sample(self.hidden_input(chains), generator)
            sampler.chains, self._own_chains = chains, sampler.hidden
        else:  # PCD-k: from the persistent chains
            chains = sampler.chains
            if chains is None or chains is not self._own_chains:
                chains = sampler._current_chains(self.model, sampler.n_chains, generator)
            if self.visible.dense:
                h_data, pre = hidden.mean(self.hidden_input(v)), self.hidden_input(chains)
            else:  # one gathered product for the batch and the chains: fewer calls
                pre = self.hidden_input(torch.cat([v, chains]))
                h_data, pre = hidden.mean(pre[:v.shape[0]]), pre[v.shape[0]:]
            for step in range(sampler.k):
                chains = self.visible_draw(hidden.sample(pre, generator))
                if step < sampler.k - 1:
                    pre = self.hidden_input(chains)
            sampler.chains = self._own_chains = chains
            h_model = hidden.mean(self.hidden_input(chains))
        if self.unstacked:
            statistic = self.visible.statistic
            grads = _dense_grads(statistic(v), h_data, statistic(chains), h_model, self.ones(v.shape[0]),
                                 self.ones(chains.shape[0]))
        else:
            coefficients = contrastive_coefficients(v, NegativePhase(chains, h_model), sample_weight)
            grads = self.model.interaction_grads(torch.cat([v, chains]), torch.cat([h_data, h_model]), coefficients)
        set_grads(self.model, grads, *self.penalties)


@torch.no_grad()
def lean_step(model: RBM, batch: Tensor, sampler: CD | PCD, generator: torch.Generator | None,
              named: list[tuple[str, Tensor]], weight_names: set[str], weight_decay: float, *,
              weighted: bool = False, l1_squared: float = 0.0, l2_fields: float = 0.0) -> None:
    """One :class:`LeanStep` for ``batch``: arguments as :func:`~torchrbm.training.step.step`'s."""
    LeanStep(model, sampler, generator, named, weight_names, weight_decay, weighted=weighted,
             l1_squared=l1_squared, l2_fields=l2_fields)(batch)


def _dense_grads(s_data: Tensor, h_data: Tensor, s_model: Tensor, h_model: Tensor, ones_n: Tensor,
                 ones_m: Tensor) -> dict[str, Tensor]:
    """The gradient of ``W``, ``a`` and ``b`` from unstacked data and model statistics (the formulas above;
    the sums over rows as products with ``ones_n`` and ``ones_m``)."""
    n, m = s_data.shape[0], s_model.shape[0]
    data_t, model_t = s_data.T, s_model.T
    return {
        "W": torch.addmm(torch.mm(model_t, h_model), data_t, h_data, beta=1 / m, alpha=-1 / n),
        "a": torch.addmv(torch.mv(model_t, ones_m), data_t, ones_n, beta=1 / m, alpha=-1 / n),
        "b": torch.addmv(torch.mv(h_model.T, ones_m), h_data.T, ones_n, beta=1 / m, alpha=-1 / n),
    }
