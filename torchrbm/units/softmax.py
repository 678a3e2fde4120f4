"""One-hot groups of units (categorical variables)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .._utils.validation import check_positive_int, holds_other_than_0_and_1
from .base import Units, check_range


class Softmax(Units):
    """Groups of ``size`` one-hot units (categorical variables), for labels and discrete features.

    Within each group exactly one unit is on; ``E_self(x; c) = -c^T x``,
    ``p(x_g = e_k | u) = softmax(u_g)_k`` and ``log_partition(u) = sum_g logsumexp(u_g)``.
    The layer's units are the groups one after another.
    """

    name = "softmax"
    discrete = True

    def __init__(self, size: int, n_units: int | None = None) -> None:
        self.size = check_positive_int(size, "softmax group size", minimum=2)
        super().__init__(n_units)

    def bind(self, n_units: int) -> Units:
        if n_units % self.size:
            raise ValueError(f"{n_units} units do not split into softmax groups of {self.size}")
        return super().bind(n_units)

    def _groups(self, x: Tensor) -> Tensor:
        return x.reshape(*x.shape[:-1], -1, self.size)

    def mean(self, pre: Tensor) -> Tensor:
        return torch.softmax(self._groups(pre), -1).reshape(pre.shape)

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.mean_and_sample(pre, generator)[1]

    def mean_and_sample(self, pre: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        mean = self.mean(pre)
        cumulative = self._groups(mean.detach()).cumsum(-1)
        uniform = torch.rand(cumulative.shape[:-1] + (1,), generator=generator, device=pre.device,
                             dtype=pre.dtype)
        # The chosen category is the first whose cumulative probability exceeds u.
        choice = (cumulative <= uniform).sum(-1, keepdim=True).clamp_(max=self.size - 1)
        sample = torch.zeros_like(cumulative).scatter_(-1, choice, 1.0)
        return mean, sample.reshape(pre.shape)

    def log_partition(self, pre: Tensor) -> Tensor:
        return torch.logsumexp(self._groups(pre), -1).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log p`` per category (defined up to a constant per group), ``p >= 1e-3``."""
        return torch.log(mean.clamp(min=1e-3))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if not x.numel():
            return
        if x.shape[-1] % self.size:
            raise ValueError(f"{name} has {x.shape[-1]} columns, not a multiple of the group size {self.size}")
        check_range(x, name, 0, 1, "softmax", "use one-hot groups")
        sums = self._groups(x).sum(-1)
        bad = (sums - 1).abs() > 1e-4
        if bool(bad.any()):
            row, group = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"{name} must hold one-hot groups of {self.size} (each summing to 1) for softmax units; "
                f"group {group} of row {row} sums to {float(sums[row, group]):g}"
            )

    def holds_states(self, x: Tensor) -> bool:
        return not holds_other_than_0_and_1(x)

    def n_states(self, n_units: int) -> int:
        return self.size ** (n_units // self.size)

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        n_groups = n_units // self.size
        index = torch.arange(start, stop, device=device, dtype=torch.int64)
        place = self.size ** torch.arange(n_groups, device=device, dtype=torch.int64)
        digits = (index[:, None] // place) % self.size  # (rows, groups)
        return F.one_hot(digits, self.size).reshape(len(index), n_units).to(dtype or torch.get_default_dtype())

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size}
