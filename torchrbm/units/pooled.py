"""Binary units with probabilistic max-pooling."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .._utils.validation import check_positive_int, holds_other_than_0_and_1
from .base import Units, check_range


class PooledBernoulli(Units):
    """Binary units in feature maps with probabilistic max-pooling (Lee et al. 2009).

    The units of each of the ``maps`` (``(n_maps, height, width)``, flattened in that
    order) are split into non-overlapping ``pool x pool`` blocks, and at most one
    unit of a block is on.  Per block ``B``, with ``E_self(x; c) = -c^T x``:

        p(x_i = 1 | u) = exp(u_i) / (1 + sum_{j in B} exp(u_j)),   log_partition = log(1 + sum_{j in B} exp(u_j));

    the probability that the block is off (its pooling unit is 0) is the rest.
    """

    name = "pooled-bernoulli"
    discrete = True

    def __init__(self, pool: int, maps, n_units: int | None = None) -> None:
        self.pool = check_positive_int(pool, "pool")
        self.maps = tuple(check_positive_int(m, "map size") for m in maps)
        if len(self.maps) != 3:
            raise ValueError(f"maps must be (n_maps, height, width); found {maps}")
        n_maps, height, width = self.maps
        if height % self.pool or width % self.pool:
            raise ValueError(f"feature maps of {height}x{width} do not split into {self.pool}x{self.pool} "
                             "pooling blocks; choose a pool size that divides them")
        super().__init__(n_units)

    def bind(self, n_units: int) -> Units:
        if n_units != math.prod(self.maps):
            raise ValueError(f"{n_units} units do not form feature maps of shape {self.maps}")
        return super().bind(n_units)

    def _blocks(self, x: Tensor) -> Tensor:
        """``(..., n_units)`` -> ``(..., n_maps, rows, columns, pool * pool)``."""
        n_maps, height, width = self.maps
        p = self.pool
        x = x.reshape(*x.shape[:-1], n_maps, height // p, p, width // p, p)
        return x.transpose(-3, -2).reshape(*x.shape[:-5], n_maps, height // p, width // p, p * p)

    def _units(self, blocks: Tensor) -> Tensor:
        """The inverse of :meth:`_blocks`."""
        n_maps, height, width = self.maps
        p = self.pool
        x = blocks.reshape(*blocks.shape[:-4], n_maps, height // p, width // p, p, p).transpose(-3, -2)
        return x.reshape(*blocks.shape[:-4], n_maps * height * width)

    def _with_off_state(self, pre: Tensor) -> Tensor:
        blocks = self._blocks(pre)
        return torch.cat([torch.zeros_like(blocks[..., :1]), blocks], -1)

    def mean(self, pre: Tensor) -> Tensor:
        return self._units(torch.softmax(self._with_off_state(pre), -1)[..., 1:])

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.mean_and_sample(pre, generator)[1]

    def mean_and_sample(self, pre: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        probabilities = torch.softmax(self._with_off_state(pre), -1)
        cumulative = probabilities.detach().cumsum(-1)
        uniform = torch.rand(cumulative.shape[:-1] + (1,), generator=generator, device=pre.device,
                             dtype=pre.dtype)
        choice = (cumulative <= uniform).sum(-1, keepdim=True).clamp_(max=cumulative.shape[-1] - 1)
        one_hot = torch.zeros_like(cumulative).scatter_(-1, choice, 1.0)
        return self._units(probabilities[..., 1:]), self._units(one_hot[..., 1:])

    def log_partition(self, pre: Tensor) -> Tensor:
        return torch.logsumexp(self._with_off_state(pre), -1).flatten(-3).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log(p_i / p_off)`` per block, with ``p_off = 1 - sum_block p`` kept above 1e-3."""
        blocks = self._blocks(mean.clamp(min=1e-3))
        off = (1 - blocks.sum(-1, keepdim=True)).clamp(min=1e-3)
        return self._units(torch.log(blocks) - torch.log(off))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if not x.numel():
            return
        check_range(x, name, 0, 1, "pooled Bernoulli", "binary states")
        if bool((self._blocks(x).sum(-1) > 1 + 1e-6).any()):
            raise ValueError(f"{name} has a pooling block with more than one unit on")

    def holds_states(self, x: Tensor) -> bool:
        return not holds_other_than_0_and_1(x)

    def n_states(self, n_units: int) -> int:
        return (self.pool * self.pool + 1) ** (n_units // (self.pool * self.pool))

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        size = self.pool * self.pool
        n_blocks = n_units // size
        index = torch.arange(start, stop, device=device, dtype=torch.int64)
        place = (size + 1) ** torch.arange(n_blocks, device=device, dtype=torch.int64)
        digits = (index[:, None] // place) % (size + 1)  # 0: block off, j: unit j - 1 on
        one_hot = F.one_hot(digits, size + 1)[..., 1:]  # (rows, blocks, size), blocks in map order
        n_maps, height, width = self.maps
        blocks = one_hot.reshape(len(index), n_maps, height // self.pool, width // self.pool, size)
        return self._units(blocks).to(dtype or torch.get_default_dtype())

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "pool": self.pool, "maps": list(self.maps)}
