"""The interface every unit type implements, the registry of unit types and helpers they share."""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._utils import kernels
from .._utils.registry import Registry
from .._utils.validation import check_positive_int

#: Every unit type by name, built-in or defined in user code (filled by :meth:`Units.__init_subclass__`).
UNIT_TYPES: Registry[Units] = Registry("unit type")


class Units(nn.Module, abc.ABC):
    """Interface of a layer's unit type."""

    #: Name used in configuration files and on the command line.
    name: str = ""
    #: Whether the states can be enumerated (needed for exact partition functions).
    discrete: bool = False
    #: Whether each unit has exactly two states, so that :meth:`flip` gives the other one
    #: (the pseudo-likelihood flips units).
    two_states: bool = False
    #: Whether ``s(x) = x``: the weights multiply the states themselves (a feed-forward network
    #: built from the model then needs no module for the statistic).
    identity_statistic: bool = True
    #: How a tool should prepare raw data for these units: ``"binarize"`` (values are probabilities
    #: of binary states: grey levels are binarised), ``"standardize"`` (real values: each column to
    #: zero mean and unit variance) or ``None`` (the data are used as they are).
    data_preparation: str | None = None
    #: Whether the weights multiply the statistic as a matrix, ``s(x) @ W`` with ``W`` of shape
    #: ``(n_units, m)``; unit types that compute their own product with the weights (Potts units:
    #: integer codes and weights of shape ``(n_units, q, m)``) are not dense.
    dense: bool = True
    #: Whether the unit type's own parameters act as its bias (dReLU's thresholds), so that a model keeps
    #: no separate trained bias for this layer.
    carries_bias: bool = False
    #: Whether :meth:`log_partition_grads` gives the gradients of this unit type's own parameters, so
    #: that they also train in a hidden layer (a visible layer's train through :meth:`free_energy_grads`).
    learns_as_hidden: bool = False
    #: Whether scaling the units (``h -> c h``, with their own parameters and the weights into them
    #: compensating) leaves ``p(v)`` unchanged, so that training fixes the scale (:meth:`unit_scale`).
    scale_invariant: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register every unit type that names itself, so that :func:`get_units` (and so
        :func:`torchrbm.load`) finds a unit type defined anywhere, user code included."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            UNIT_TYPES.register(cls.name, cls)

    def __init__(self, n_units: int | None = None) -> None:
        super().__init__()
        self.n_units: int | None = None
        if n_units is not None:
            self.bind(check_positive_int(n_units, "n_units"))

    def bind(self, n_units: int) -> Units:
        """Check (or set) the number of units this instance describes; returns ``self``."""
        if self.n_units is None:
            self.n_units = n_units
        elif self.n_units != n_units:
            raise ValueError(f"{self.name} units were built for {self.n_units} units, not {n_units}")
        return self

    def constrain_(self) -> None:  # noqa: B027 - only unit types with constrained parameters act
        """Project this unit type's own parameters back into their valid range (after an update)."""

    def gauge_(self, bias: Tensor, weights: Tensor) -> Tensor | None:
        """Move this layer's biases and weights (``field_shape + (m,)``) into the unit type's gauge, in
        place, and return the field the other layer's ``m`` biases must gain for every probability to
        stay the same; ``None`` for unit types without a gauge freedom."""
        return None

    def statistic(self, x: Tensor) -> Tensor:
        """``s(x)``, the quantity the weights multiply."""
        return x

    @property
    def field_shape(self) -> tuple[int, ...]:
        """The shape of this layer's biases and of one example's pre-activation; weights between this
        layer and one of ``m`` units have shape ``field_shape + (m,)``."""
        return (self.n_units,)

    def times_weights(self, x: Tensor, weights: Tensor, bias: Tensor | None = None) -> Tensor:
        """``bias + s(x) W``: what states ``x`` (``(..., n_units)``) give the ``m`` units on the other side
        of ``weights`` (``field_shape + (m,)``), shape ``(..., m)``."""
        if bias is None:
            return self.statistic(x).to(weights.dtype) @ weights
        return kernels.affine(self.statistic(x), weights, bias)

    def weights_times(self, other: Tensor, weights: Tensor, bias: Tensor | None = None) -> Tensor:
        """``bias + W s``: this layer's pre-activation from the other layer's statistic ``other``
        (``(..., m)``), shape ``(..., *field_shape)``."""
        if bias is None:
            return other.to(weights.dtype) @ weights.T
        return kernels.affine(other, weights.T, bias)

    def weighted_outer(self, x: Tensor, other: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """``sum_n s(x_n) other_n^T`` over the rows of ``x`` and ``other`` (``(n, m)``), shape
        ``field_shape + (m,)``, in ``other``'s dtype (the products in ``dtype`` if given)."""
        dtype = dtype or other.dtype
        return kernels.mm(self.statistic(x).T.to(dtype), other.to(dtype)).to(other.dtype)

    def squared_error(self, x: Tensor, mean: Tensor) -> Tensor:
        """``sum_i (x_i - mean_i)^2`` per example: how far states ``x`` are from means ``mean`` (shape
        ``(..., *field_shape)``), for reconstruction errors."""
        return (mean - x).square().sum(-1)

    def data_mean(self, x: Tensor) -> Tensor:
        """The mean of the rows of ``x`` in float64, shape ``field_shape``: what :meth:`bias_for_mean`
        turns into biases."""
        return x.double().mean(0)

    @abc.abstractmethod
    def mean(self, pre: Tensor) -> Tensor:
        """``E[s(x) | u]`` for pre-activation ``u``."""

    @abc.abstractmethod
    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A draw from ``p(x | u)``, one per element of ``pre``."""

    def point_estimate(self, mean: Tensor) -> Tensor:
        """One value per unit in the layout of the states, from the units' average :meth:`mean`: the mean
        itself, for units whose states are numbers (see Potts units for those whose mean is one
        probability per state)."""
        return mean

    def mean_and_sample(
        self, pre: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(mean(u), sample(u))`` sharing whatever work the two have in common."""
        return self.mean(pre), self.sample(pre, generator)

    @abc.abstractmethod
    def log_partition(self, pre: Tensor) -> Tensor:
        """``sum_i log sum_{x_i} exp(-B(x_i) + u_i s(x_i))`` over the last dimension."""

    @abc.abstractmethod
    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The bias that makes units with no input have mean ``mean``."""

    @abc.abstractmethod
    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``E_self(x; c) = B(x) - c^T s(x)``, summed over the last dimension."""

    def self_energy_bias_grad(self, x: Tensor, coefficients: Tensor | None = None) -> Tensor:
        """``sum_n w_n d E_self(x_n; c) / d c = -sum_n w_n s(x_n)`` over the rows of ``x``.

        Without ``coefficients`` every example counts once (``c_n = 1``).
        """
        s = self.statistic(x)
        return -(s.sum(0) if coefficients is None else coefficients @ s)

    def outer_and_bias_grad(self, x: Tensor, other: Tensor, coefficients: Tensor,
                            dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """``(weighted_outer(x, other, dtype), self_energy_bias_grad(x, coefficients))``, the two statistics of
        a contrastive gradient, in one call: unit types whose two share work (Potts units: one sort of the
        codes) do it once."""
        return self.weighted_outer(x, other, dtype), self.self_energy_bias_grad(x, coefficients)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, coefficients: Tensor) -> dict[str, Tensor]:
        """Gradients of ``sum_n w_n F(x_n)`` with respect to this unit type's own parameters.

        ``F(x) = E_self(x; c) - log_partition_other(b + s(x)^T W)``; ``field()`` returns
        ``W E[s_other | x]`` for the rows of ``x``, computed only if needed.  Unit
        types without parameters return ``{}``.
        """
        return {}

    def absorb_bias_(self, field: Tensor) -> None:
        """Add ``field`` (``(n_units,)``) to the bias these units carry (:attr:`carries_bias`), as an energy
        term ``-field^T s(x)`` would: for a gauge move of the other layer."""
        raise NotImplementedError(f"{self.name} units carry no bias of their own")

    def unit_scale(self, pre: Tensor, sample_weight: Tensor | None = None) -> Tensor:
        """For :attr:`scale_invariant` units: the factor ``c`` (one per unit) that fixes the scale given the
        units' inputs ``pre`` on the data; :meth:`rescale_` applies it."""
        raise NotImplementedError(f"{self.name} units have no scale invariance to fix")

    def rescale_(self, scale: Tensor) -> None:
        """Scale the units, ``h -> c h`` (``c = scale``), by changing their own parameters; the weights
        (and any bias) feeding them must be divided by ``c`` for ``p(v)`` to stay the same."""
        raise NotImplementedError(f"{self.name} units have no scale invariance to fix")

    def log_partition_grads(self, pre: Tensor, coefficients: Tensor) -> dict[str, Tensor]:
        """``sum_n c_n d log_partition(pre_n) / d theta`` for this unit type's own parameters ``theta``,
        ``pre`` held fixed: for units summed out of the free energy (a hidden layer's). ``{}`` by default."""
        return {}

    def check_values(self, x: Tensor, name: str) -> None:  # noqa: B027 - any finite value is fine by default
        """Raise ``ValueError`` if ``x`` holds values these units cannot take."""

    def check_training_data(self, x: Tensor, name: str) -> None:  # noqa: B027 - optional check
        """Raise (or warn) if ``x`` is unsuited to training these units (beyond :meth:`check_values`)."""

    def holds_states(self, x: Tensor) -> bool:
        """Whether the values of ``x`` (valid for these units) are states, not only means of states
        (grey levels for binary units): ``-F(v) - log Z`` is a log-probability only for states."""
        return True

    def unit_states(self) -> Tensor | None:
        """The states each unit takes, when every unit takes the same few (Potts: ``0 .. q - 1``), else
        ``None``: the pseudo-likelihood of units with more than two states sums over them."""
        return None

    def flip(self, x: Tensor) -> Tensor:
        """Each unit's other state, for units with :attr:`two_states`."""
        raise TypeError(f"{self.name} units have more than two states; only two-state units can be flipped")

    def divergence_hint(self) -> str | None:
        """A likely cause of diverging training that lies with these units, or ``None``."""
        return None

    def n_states(self, n_units: int) -> int:
        """Number of joint states of ``n_units`` units (discrete units only)."""
        raise TypeError(f"{self.name} units have no finite state space to enumerate")

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        """Joint states number ``start`` to ``stop - 1`` of ``n_units`` units."""
        raise TypeError(f"{self.name} units have no finite state space to enumerate")

    def config(self) -> dict[str, Any]:
        """Name and options, enough for :func:`get_units` to rebuild this unit type."""
        return {"name": self.name}

    def activation(self) -> nn.Module:
        """A module mapping a pre-activation to :meth:`mean`, for feed-forward networks
        built from an RBM (``Sigmoid`` for binary units)."""
        return UnitsFunction(self, "mean")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")


class UnitsFunction(nn.Module):
    """One of a unit type's maps as a module: ``mean`` (pre-activation to ``E[s(x) | u]``)
    or ``statistic`` (state to ``s(x)``), for feed-forward networks built from RBMs."""

    def __init__(self, units: Units, method: str) -> None:
        super().__init__()
        if method not in ("mean", "statistic"):
            raise ValueError(f"method must be 'mean' or 'statistic'; found {method!r}")
        self.units = units
        self.method = method

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self.units, self.method)(x)

    def extra_repr(self) -> str:
        return f"method={self.method!r}"


def get_units(spec: str | dict[str, Any] | Units, n_units: int) -> Units:
    """A unit type for a layer of ``n_units``: by name (``"gaussian"``), by configuration
    (``{"name": "softmax", "size": 10}``) or an instance, which is checked and passed through."""
    if isinstance(spec, Units):
        return spec.bind(n_units)
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise TypeError(f"unit type must be a name, a configuration or a Units instance, not {type(spec).__name__}")
    options = dict(spec)
    name = str(options.pop("name", ""))
    cls = UNIT_TYPES[name if name in UNIT_TYPES else name.lower()]
    try:
        units = cls(**options)
    except TypeError as err:
        raise ValueError(f"bad options for {cls.name} units: {err}") from None
    return units.bind(n_units)


def _rand_like_takes_a_generator() -> bool:
    try:
        torch.rand_like(torch.empty(0), generator=torch.Generator())
    except TypeError:  # PyTorch before 2.4
        return False
    return True


_RAND_LIKE_TAKES_A_GENERATOR = _rand_like_takes_a_generator()


def uniform_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Uniforms on ``[0, 1)`` of ``x``'s shape, dtype and device, from ``generator``: the draws of
    ``torch.rand(x.shape, ...)``, in one call where PyTorch allows (a draw per unit update is a
    noticeable share of a small model's step)."""
    if _RAND_LIKE_TAKES_A_GENERATOR:
        return torch.rand_like(x, generator=generator, memory_format=torch.contiguous_format)
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))`` to the last bit of ``x``'s dtype: PyTorch's default returns ``x`` above 20, an
    error of ``log1p(exp(-20)) = 2e-9``, below float32's resolution there but not float64's."""
    return F.softplus(x, threshold=40.0 if x.dtype == torch.float64 else 20.0)


def check_range(x: Tensor, name: str, low_bound: float, high_bound: float, kind: str, advice: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``x`` has a value outside ``[low_bound, high_bound]``."""
    if not x.numel():
        return
    low, high = torch.aminmax(x)
    if low < low_bound or high > high_bound:
        raise ValueError(
            f"{name} must lie in [{low_bound:g}, {high_bound:g}] for {kind} units; found values from "
            f"{low.item():g} to {high.item():g} ({advice})"
        )


def binary_states(n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
    """Rows ``start`` to ``stop - 1`` of the binary counting table of ``n_units`` bits."""
    index = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = torch.arange(n_units, device=device, dtype=torch.int64)
    return ((index[:, None] >> bits) & 1).to(dtype or torch.get_default_dtype())
