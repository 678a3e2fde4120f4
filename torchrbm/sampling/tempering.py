"""The geometric path between a base model and an RBM, used by AIS and parallel tempering.

The base ``A`` has independent visible units with biases ``c`` (zero: uniform) and
hidden units with no input.  At inverse temperature ``beta`` the joint energy is
``(1 - beta) E_A(v) + beta E(v, h)``; with the hidden units summed out,

    log f_beta(v) = -(1 - beta) E_vis(v; c) - beta E_vis(v; a) + log_partition_h(beta (b + v^T W)),

and one Gibbs step samples ``h ~ p(h | beta (b + v^T W))`` then
``v ~ p(v | (1 - beta) c + beta (a + W h))``.  ``beta`` is a number or a column
``(n, 1)`` giving each row its own temperature.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.protocol import EnergyModel


class TemperedPath:
    """``f_beta`` and its Gibbs transition for ``model`` and base visible biases ``base_bias``."""

    def __init__(self, model: EnergyModel, base_bias: Tensor | None = None) -> None:
        self.model = model
        self.base_bias = (
            torch.zeros(model.visible.field_shape, device=model.device, dtype=model.dtype)
            if base_bias is None
            else base_bias
        )

    def log_f(self, v: Tensor, beta, pre: Tensor | None = None) -> Tensor:
        """``log f_beta(v)`` in float64; ``pre`` is ``b + v^T W`` if already known."""
        model = self.model
        if pre is None:
            pre = model.hidden_preactivation(v)
        row_beta = beta[:, 0] if isinstance(beta, Tensor) else beta
        energy = (1 - row_beta) * model.visible.self_energy(v, self.base_bias) + row_beta * model.visible.self_energy(
            v, model.a
        )
        return (model.hidden.log_partition(beta * pre) - energy).double()

    def gibbs(self, v: Tensor, beta, generator: torch.Generator | None = None,
              pre: Tensor | None = None) -> Tensor:
        """One block-Gibbs step at ``beta``, leaving ``f_beta`` invariant."""
        model = self.model
        if pre is None:
            pre = model.hidden_preactivation(v)
        h = model.hidden.sample(beta * pre, generator)
        field = model.visible_preactivation(h)
        if isinstance(beta, Tensor):  # a column (n, 1): one value per row, whatever the field's shape
            beta = beta.reshape(-1, *[1] * (field.ndim - 1))
        visible_pre = (1 - beta) * self.base_bias + beta * field
        return model.visible.sample(visible_pre, generator)

    def base_log_partition(self) -> float:
        """``log Z`` of ``f_0``: base visible units times hidden units with no input."""
        model = self.model
        zero_input = torch.zeros(model.n_hidden, dtype=torch.float64, device=model.device)
        return float(model.visible.log_partition(self.base_bias.double()) + model.hidden.log_partition(zero_input))
