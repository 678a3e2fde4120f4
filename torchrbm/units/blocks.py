"""A layer of consecutive blocks of other unit types."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .._utils.validation import check_positive_int
from .base import Units, get_units


class Blocks(Units):
    """A layer made of consecutive blocks of other unit types, e.g. binary pixels followed
    by a softmax label group (Larochelle & Bengio's classification RBM).

    ``parts`` is a sequence of ``(units, size)`` pairs; every method splits the last
    dimension into the blocks, applies each block's unit type and joins the results
    (sums for energies and log-partitions, concatenation for states and means).
    """

    name = "blocks"

    def __init__(self, parts, n_units: int | None = None) -> None:
        parts = [(spec, check_positive_int(size, "block size")) for spec, size in parts]
        if not parts:
            raise ValueError("Blocks needs at least one (units, size) part")
        super().__init__()
        self.sizes = [size for _, size in parts]
        self.parts = nn.ModuleList(get_units(spec, size) for spec, size in parts)
        self.discrete = all(part.discrete for part in self.parts)
        self.two_states = all(part.two_states for part in self.parts)
        self.identity_statistic = all(part.identity_statistic for part in self.parts)
        preparations = {part.data_preparation for part in self.parts}
        self.data_preparation = preparations.pop() if len(preparations) == 1 else None
        if n_units is not None:
            self.bind(check_positive_int(n_units, "n_units"))

    def bind(self, n_units: int) -> Units:
        if n_units != sum(self.sizes):
            raise ValueError(f"blocks of sizes {self.sizes} make {sum(self.sizes)} units, not {n_units}")
        return super().bind(n_units)

    def _split(self, x: Tensor) -> tuple[Tensor, ...]:
        return torch.split(x, self.sizes, dim=-1)

    def _pieces(self, *tensors: Tensor):
        """``(part, piece of each tensor...)`` for every block."""
        return zip(self.parts, *(self._split(t) for t in tensors), strict=True)

    def _map(self, method: str, x: Tensor, *args) -> Tensor:
        return torch.cat([getattr(part, method)(piece, *args) for part, piece in self._pieces(x)], -1)

    def constrain_(self) -> None:
        for part in self.parts:
            part.constrain_()

    def statistic(self, x: Tensor) -> Tensor:
        return self._map("statistic", x)

    def mean(self, pre: Tensor) -> Tensor:
        return self._map("mean", pre)

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self._map("sample", pre, generator)

    def mean_and_sample(self, pre: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        pairs = [part.mean_and_sample(piece, generator) for part, piece in self._pieces(pre)]
        return torch.cat([mean for mean, _ in pairs], -1), torch.cat([sample for _, sample in pairs], -1)

    def log_partition(self, pre: Tensor) -> Tensor:
        return sum(part.log_partition(piece) for part, piece in self._pieces(pre))

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        return self._map("bias_for_mean", mean)

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return sum(part.self_energy(piece, part_bias)
                   for part, piece, part_bias in self._pieces(x, bias))

    def self_energy_bias_grad(self, x: Tensor, coefficients: Tensor | None = None) -> Tensor:
        return torch.cat([part.self_energy_bias_grad(piece, coefficients)
                          for part, piece in self._pieces(x)], -1)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, coefficients: Tensor) -> dict[str, Tensor]:
        grads = {}
        start = 0
        for index, (part, piece, part_bias) in enumerate(self._pieces(x, bias)):
            columns = slice(start, start + self.sizes[index])
            part_field = lambda columns=columns: field()[..., columns]  # noqa: E731 - computed only if asked
            part_grads = part.free_energy_grads(piece, part_bias, part_field, coefficients)
            grads.update({f"parts.{index}.{name}": grad for name, grad in part_grads.items()})
            start = columns.stop
        return grads

    def _check_each(self, method: str, x: Tensor, name: str) -> None:
        """Run each block's ``method`` check on its columns, naming them in any error."""
        start = 0
        for part, piece in self._pieces(x):
            getattr(part, method)(piece, f"{name} (columns {start} to {start + piece.shape[-1] - 1})")
            start += piece.shape[-1]

    def check_values(self, x: Tensor, name: str) -> None:
        self._check_each("check_values", x, name)

    def check_training_data(self, x: Tensor, name: str) -> None:
        self._check_each("check_training_data", x, name)

    def holds_states(self, x: Tensor) -> bool:
        return all(part.holds_states(piece) for part, piece in self._pieces(x))

    def flip(self, x: Tensor) -> Tensor:
        return self._map("flip", x)

    def divergence_hint(self) -> str | None:
        hints = [hint for part in self.parts if (hint := part.divergence_hint()) is not None]
        return "; ".join(dict.fromkeys(hints)) or None

    def n_states(self, n_units: int) -> int:
        return math.prod(part.n_states(size) for part, size in zip(self.parts, self.sizes, strict=True))

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        """States in mixed radix: the first block's state varies fastest."""
        index = torch.arange(start, stop, device=device, dtype=torch.int64)
        pieces = []
        for part, size in zip(self.parts, self.sizes, strict=True):
            count = part.n_states(size)
            digit = index % count
            index = index // count
            every = part.states(size, 0, count, device=device, dtype=dtype)
            pieces.append(every[digit])
        return torch.cat(pieces, -1)

    def config(self) -> dict[str, Any]:
        parts = zip(self.parts, self.sizes, strict=True)
        return {"name": self.name, "parts": [[part.config(), size] for part, size in parts]}
