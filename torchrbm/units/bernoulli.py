"""Binary units."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._utils.validation import holds_other_than_0_and_1
from .base import Units, binary_states, check_range, softplus, uniform_like


class Bernoulli(Units):
    """Binary units ``x in {0, 1}``.

    ``E_self(x; c) = -c^T x``, ``p(x_i = 1 | u) = sigmoid(u_i)`` and
    ``log_partition(u) = sum_i log(1 + exp(u_i)) = sum_i softplus(u_i)``.
    """

    name = "bernoulli"
    discrete = True
    two_states = True
    data_preparation = "binarize"

    def mean(self, pre: Tensor) -> Tensor:
        return torch.sigmoid(pre)

    def activation(self) -> nn.Module:
        return nn.Sigmoid()

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.mean_and_sample(pre, generator)[1]

    def mean_and_sample(
        self, pre: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        mean = torch.sigmoid(pre)
        # Comparing with uniforms is several times faster than torch.bernoulli.
        return mean, uniform_like(pre, generator).lt_(mean.detach())  # in place: 1.0 where u < p, else 0.0

    def log_partition(self, pre: Tensor) -> Tensor:
        return softplus(pre).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log(p / (1 - p))``, with ``p`` kept within ``[1e-3, 1 - 1e-3]``."""
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        check_range(x, name, 0, 1, "Bernoulli", "scale or binarise the data first")

    def holds_states(self, x: Tensor) -> bool:
        return not holds_other_than_0_and_1(x)

    def flip(self, x: Tensor) -> Tensor:
        """``1 - x``."""
        return 1 - x

    def unit_states(self) -> Tensor:
        return torch.tensor([0.0, 1.0])

    def n_states(self, n_units: int) -> int:
        return 2**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        return binary_states(n_units, start, stop, device=device, dtype=dtype)
