"""Mutational scans: the model's log-likelihood ratio of every single mutant of a sequence."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils.validation import numeric_tensor
from ..models.protocol import EnergyModel


@torch.no_grad()
def mutational_scan(model: EnergyModel, sequence) -> Tensor:
    """``log p(x^{i -> a}) - log p(x) = F(x) - F(x^{i -> a})`` for every position ``i`` and state ``a``.

    ``sequence`` is one row of codes, shape ``(L,)`` (or ``(1, L)``), for visible units with a few
    states each (Potts: ``0 .. q - 1``; binary units: 0 and 1).  Returns an ``(L, k)`` float64
    tensor on the model's device, ``k`` the states per position, zero where ``a`` is the sequence's
    own state: the score of each single mutant (positive: the model prefers the mutant).  ``log Z``
    cancels, so no estimate of it is needed.
    """
    states = model.visible.unit_states()
    if states is None:
        raise ValueError(f"a mutational scan changes one unit at a time to each of its states: it needs visible "
                         f"units with a few states each (Potts, Bernoulli, spin), not {model.visible.name}")
    x = numeric_tensor(sequence, "sequence").reshape(1, -1)
    x = model.check_data(x, "sequence").to(device=model.device, dtype=model.dtype)
    length, states = model.n_visible, states.to(device=model.device, dtype=model.dtype)
    mutants = x.repeat(length * states.numel(), 1).reshape(length, states.numel(), length)
    position = torch.arange(length, device=model.device)
    mutants[position, :, position] = states.expand(length, -1)
    return model.free_energy(x).double() - model.free_energy(mutants).double()
