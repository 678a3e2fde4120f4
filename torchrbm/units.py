"""Unit types: the extension point of every model in torchrbm.

A layer of units with bias ``c`` contributes a *self energy* ``E_self(x; c)`` to
the joint energy of an RBM, and the layer's units are conditionally independent
given their *pre-activation* ``u`` (bias plus input from the other layer).  A
unit type therefore needs to know only four things:

* ``mean(u)``: the conditional mean ``E[x | u]``;
* ``sample(u, generator)``: a draw from ``p(x | u)``;
* ``log_partition(u)``: ``sum_i log sum_{x_i} exp(x_i * u_i)``, the term the layer
  contributes to the free energy when it is summed out;
* ``self_energy(x, c)`` and its gradient with respect to ``c``.

The RBM code calls only these methods and never branches on the unit type.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor
from torch.nn import functional as F


class Units(abc.ABC):
    """Interface of a layer's unit type."""

    #: Name used in configuration files and on the command line.
    name: str = ""
    #: Whether the states can be enumerated (needed for exact partition functions).
    discrete: bool = False

    @abc.abstractmethod
    def mean(self, pre: Tensor) -> Tensor:
        """Conditional mean ``E[x | u]`` for pre-activation ``u``."""

    @abc.abstractmethod
    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A draw from ``p(x | u)``, one per element of ``pre``."""

    def mean_and_sample(
        self, pre: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(mean(u), sample(u))`` sharing whatever work the two have in common."""
        return self.mean(pre), self.sample(pre, generator)

    @abc.abstractmethod
    def log_partition(self, pre: Tensor) -> Tensor:
        """``sum_i log sum_{x_i} exp(x_i u_i)`` over the last dimension."""

    @abc.abstractmethod
    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The bias that makes a unit with no input have mean ``mean``."""

    @abc.abstractmethod
    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """Energy of the layer on its own, summed over the last dimension."""

    @abc.abstractmethod
    def self_energy_bias_grad(self, x: Tensor, weight: Tensor | None = None) -> Tensor:
        """``sum_n w_n d E_self(x_n; c) / d c`` over the examples (rows) of ``x``.

        Without ``weight`` every example counts once (``w_n = 1``).
        """

    @abc.abstractmethod
    def check_values(self, x: Tensor, name: str) -> None:
        """Raise ``ValueError`` if ``x`` holds values these units cannot take."""

    def n_states(self, n_units: int) -> int:
        """Number of joint states of ``n_units`` units (discrete units only)."""
        raise TypeError(f"{self.name} units have no finite state space to enumerate")

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        """Joint states number ``start`` to ``stop - 1`` of ``n_units`` units."""
        raise TypeError(f"{self.name} units have no finite state space to enumerate")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Bernoulli(Units):
    """Binary units ``x in {0, 1}``.

    ``E_self(x; c) = -c^T x``, ``p(x_i = 1 | u) = sigmoid(u_i)`` and
    ``log_partition(u) = sum_i log(1 + exp(u_i)) = sum_i softplus(u_i)``.
    """

    name = "bernoulli"
    discrete = True

    def mean(self, pre: Tensor) -> Tensor:
        return torch.sigmoid(pre)

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.mean_and_sample(pre, generator)[1]

    def mean_and_sample(
        self, pre: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        mean = torch.sigmoid(pre)
        # Comparing with uniforms is several times faster than torch.bernoulli.
        uniform = torch.rand(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype)
        return mean, uniform.lt_(mean.detach())  # in place: 1.0 where u < p, else 0.0

    def log_partition(self, pre: Tensor) -> Tensor:
        return F.softplus(pre).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log(p / (1 - p))``, with ``p`` kept within ``[1e-3, 1 - 1e-3]``."""
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x @ bias)

    def self_energy_bias_grad(self, x: Tensor, weight: Tensor | None = None) -> Tensor:
        return -(x.sum(0) if weight is None else weight @ x)

    def check_values(self, x: Tensor, name: str) -> None:
        if not x.numel():
            return
        low, high = torch.aminmax(x)
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} must lie in [0, 1] for Bernoulli units; found values from "
                f"{low.item():g} to {high.item():g} (scale or binarise the data first)"
            )

    def n_states(self, n_units: int) -> int:
        return 2**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        index = torch.arange(start, stop, device=device, dtype=torch.int64)
        bits = torch.arange(n_units, device=device, dtype=torch.int64)
        return ((index[:, None] >> bits) & 1).to(dtype or torch.get_default_dtype())


_REGISTRY: dict[str, type[Units]] = {Bernoulli.name: Bernoulli}


def get_units(spec: str | Units) -> Units:
    """Return a unit type from its name (``"bernoulli"``) or pass an instance through."""
    if isinstance(spec, Units):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"unit type must be a name or a Units instance, not {type(spec).__name__}")
    try:
        return _REGISTRY[spec.lower()]()
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown unit type {spec!r}; known types: {known}") from None
