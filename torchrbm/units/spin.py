"""Ising spins."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import Units, binary_states, uniform_like


class Spin(Units):
    """Ising spins ``x in {-1, +1}``.

    ``E_self(x; c) = -c^T x``, ``E[x_i | u] = tanh(u_i)``,
    ``p(x_i = +1 | u) = sigmoid(2 u_i)`` and ``log_partition(u) = sum_i log(2 cosh u_i)``.
    """

    name = "spin"
    discrete = True
    two_states = True

    def mean(self, pre: Tensor) -> Tensor:
        return torch.tanh(pre)

    def activation(self) -> nn.Module:
        return nn.Tanh()

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return uniform_like(pre, generator).lt_(torch.sigmoid(2 * pre.detach())).mul_(2).sub_(1)

    def log_partition(self, pre: Tensor) -> Tensor:
        # log(2 cosh u) = |u| + softplus(-2 |u|), stable for large |u|.
        magnitude = pre.abs()
        return (magnitude + F.softplus(-2 * magnitude)).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``artanh(m)``, with ``m`` kept within ``[-1 + 2e-3, 1 - 2e-3]``."""
        return torch.atanh(mean.clamp(-1 + 2e-3, 1 - 2e-3))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if not x.numel():
            return
        signed = x if x.is_floating_point() or x.dtype.is_signed else x.to(torch.int64)  # uint8 255 == -1 in torch
        wrong = (signed != 1) & (signed != -1)
        if bool(wrong.any()):
            found = float(signed[wrong].flatten()[0])
            advice = ("unsigned integers wrap around: 2 * x - 1 on uint8 data gives 255 for 0; map 0/1 data by "
                      "2 * x.float() - 1" if signed is not x else "map 0/1 data by 2 * x - 1")
            raise ValueError(f"{name} must hold only -1 and +1 for spin units; found {found:g} ({advice})")

    def flip(self, x: Tensor) -> Tensor:
        """``-x``."""
        return -x

    def unit_states(self) -> Tensor:
        return torch.tensor([-1.0, 1.0])

    def n_states(self, n_units: int) -> int:
        return 2**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        return binary_states(n_units, start, stop, device=device, dtype=dtype) * 2 - 1
