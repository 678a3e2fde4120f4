"""Unit types: the extension point of every model in torchrbm.

A layer of units with bias ``c`` has the *self energy*

    E_self(x; c) = B(x) - c^T s(x),

where ``s(x)`` is the layer's *statistic* (what the weights multiply) and ``B`` a
base energy, and the joint energy of an RBM is
``E(v, h) = E_self(v; a) + E_self(h; b) - s_v(v)^T W s_h(h)``.  Given the other layer,
a layer's units are independent, each with *pre-activation* ``u`` (its bias plus
the input from the other layer), and

    p(x | u) ∝ exp(-B(x) + u^T s(x)).

A unit type therefore needs to know only:

* ``statistic(x)``: ``s(x)`` (``x`` itself for most types);
* ``mean(u)``: ``E[s(x) | u]``, and ``sample(u)``: a draw from ``p(x | u)``;
* ``log_partition(u)``: ``sum_i log sum_{x_i} exp(-B(x_i) + u_i s(x_i))`` (an integral
  for continuous units), the term a summed-out layer adds to the free energy;
* ``self_energy(x, c)`` and its gradient with respect to ``c`` and to the unit
  type's own parameters (the learned variance of Gaussian units).

The RBM code calls only these methods and never branches on the unit type.  Unit
types are ``torch.nn.Module`` s so that their own parameters train, save and move
with the model.
"""

from __future__ import annotations

import abc
import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._utils.validation import check_positive_int


class Units(nn.Module, abc.ABC):
    """Interface of a layer's unit type."""

    #: Name used in configuration files and on the command line.
    name: str = ""
    #: Whether the states can be enumerated (needed for exact partition functions).
    discrete: bool = False

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

    def statistic(self, x: Tensor) -> Tensor:
        """``s(x)``, the quantity the weights multiply."""
        return x

    @abc.abstractmethod
    def mean(self, pre: Tensor) -> Tensor:
        """``E[s(x) | u]`` for pre-activation ``u``."""

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
        """``sum_i log sum_{x_i} exp(-B(x_i) + u_i s(x_i))`` over the last dimension."""

    @abc.abstractmethod
    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The bias that makes units with no input have mean ``mean``."""

    @abc.abstractmethod
    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``E_self(x; c) = B(x) - c^T s(x)``, summed over the last dimension."""

    def self_energy_bias_grad(self, x: Tensor, weight: Tensor | None = None) -> Tensor:
        """``sum_n w_n d E_self(x_n; c) / d c = -sum_n w_n s(x_n)`` over the rows of ``x``.

        Without ``weight`` every example counts once (``w_n = 1``).
        """
        s = self.statistic(x)
        return -(s.sum(0) if weight is None else weight @ s)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, weight: Tensor) -> dict[str, Tensor]:
        """Gradients of ``sum_n w_n F(x_n)`` with respect to this unit type's own parameters.

        ``F(x) = E_self(x; c) - log_partition_other(b + s(x)^T W)``; ``field()`` returns
        ``W E[s_other | x]`` for the rows of ``x``, computed only if needed.  Unit
        types without parameters return ``{}``.
        """
        return {}

    def check_values(self, x: Tensor, name: str) -> None:  # noqa: B027 - any finite value is fine by default
        """Raise ``ValueError`` if ``x`` holds values these units cannot take."""

    def check_training_data(self, x: Tensor, name: str) -> None:  # noqa: B027 - optional check
        """Raise (or warn) if ``x`` is unsuited to training these units (beyond :meth:`check_values`)."""

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


def _binary_states(n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
    """Rows ``start`` to ``stop - 1`` of the binary counting table of ``n_units`` bits."""
    index = torch.arange(start, stop, device=device, dtype=torch.int64)
    bits = torch.arange(n_units, device=device, dtype=torch.int64)
    return ((index[:, None] >> bits) & 1).to(dtype or torch.get_default_dtype())


class Bernoulli(Units):
    """Binary units ``x in {0, 1}``.

    ``E_self(x; c) = -c^T x``, ``p(x_i = 1 | u) = sigmoid(u_i)`` and
    ``log_partition(u) = sum_i log(1 + exp(u_i)) = sum_i softplus(u_i)``.
    """

    name = "bernoulli"
    discrete = True

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
        uniform = torch.rand(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype)
        return mean, uniform.lt_(mean.detach())  # in place: 1.0 where u < p, else 0.0

    def log_partition(self, pre: Tensor) -> Tensor:
        return softplus(pre).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log(p / (1 - p))``, with ``p`` kept within ``[1e-3, 1 - 1e-3]``."""
        return torch.logit(mean.clamp(1e-3, 1 - 1e-3))

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return -(x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        _check_range(x, name, 0, 1, "Bernoulli", "scale or binarise the data first")

    def n_states(self, n_units: int) -> int:
        return 2**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        return _binary_states(n_units, start, stop, device=device, dtype=dtype)


class Spin(Units):
    """Ising spins ``x in {-1, +1}``.

    ``E_self(x; c) = -c^T x``, ``E[x_i | u] = tanh(u_i)``,
    ``p(x_i = +1 | u) = sigmoid(2 u_i)`` and ``log_partition(u) = sum_i log(2 cosh u_i)``.
    """

    name = "spin"
    discrete = True

    def mean(self, pre: Tensor) -> Tensor:
        return torch.tanh(pre)

    def activation(self) -> nn.Module:
        return nn.Tanh()

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        uniform = torch.rand(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype)
        return uniform.lt_(torch.sigmoid(2 * pre.detach())).mul_(2).sub_(1)

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

    def n_states(self, n_units: int) -> int:
        return 2**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        return _binary_states(n_units, start, stop, device=device, dtype=dtype) * 2 - 1


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
        _check_range(x, name, 0, 1, "softmax", "use one-hot groups")
        sums = self._groups(x).sum(-1)
        bad = (sums - 1).abs() > 1e-4
        if bool(bad.any()):
            row, group = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"{name} must hold one-hot groups of {self.size} (each summing to 1) for softmax units; "
                f"group {group} of row {row} sums to {float(sums[row, group]):g}"
            )

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
        _check_range(x, name, 0, 1, "pooled Bernoulli", "binary states")
        if bool((self._blocks(x).sum(-1) > 1 + 1e-6).any()):
            raise ValueError(f"{name} has a pooling block with more than one unit on")

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


class ReLU(Units):
    """Rectified Gaussian units ``x >= 0`` with unit variance: the exact energy-based
    counterpart of Nair & Hinton's (2010) noisy rectified linear units.

    ``E_self(x; c) = sum_i x_i^2 / 2 - c^T x`` on ``x >= 0``, so ``p(x_i | u)`` is ``N(u_i, 1)``
    truncated to ``[0, inf)``:

        E[x | u] = u + phi(u) / Phi(u),   log_partition(u) = sum_i u_i^2 / 2 + log Phi(u_i) + log(2 pi) / 2.

    Sampling inverts the truncated normal's CDF in log space, ``x = u - Phi^-1(U Phi(u))``,
    falling back to its exponential limit ``-log(U) / |u|`` where ``Phi(u)`` underflows.
    Unlike Nair & Hinton's ``max(0, u + N(0, sigmoid(u)))`` this leaves the model exactly
    invariant, so AIS and exact likelihoods stay valid.
    """

    name = "relu"

    def mean(self, pre: Tensor) -> Tensor:
        # phi(u) / Phi(u) = exp(log phi(u) - log Phi(u)), stable in the far negative tail.
        log_phi = -0.5 * pre.square() - 0.5 * math.log(2 * math.pi)
        return pre + torch.exp(log_phi - torch.special.log_ndtr(pre))

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = pre.detach().double()
        uniform = torch.rand(u.shape, generator=generator, device=u.device, dtype=torch.float64)
        log_tail = torch.log(uniform) + torch.special.log_ndtr(u)
        exact = u - torch.special.ndtri(log_tail.exp())
        limit = -torch.log(uniform) / u.abs().clamp(min=1.0)
        x = torch.where(log_tail > -700.0, exact, limit).clamp_(min=0.0)
        return x.to(pre.dtype)

    def log_partition(self, pre: Tensor) -> Tensor:
        return (0.5 * pre.square() + torch.special.log_ndtr(pre) + 0.5 * math.log(2 * math.pi)).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The ``u`` with ``E[x | u] = mean``, by Newton's method on the increasing map."""
        target = mean.clamp(min=1e-3).double()
        u = target - 1.0 / target.clamp(min=1e-3).sqrt()
        for _ in range(50):
            value = self.mean(u)
            slope = (1 - (value - u) * value).clamp(min=1e-6)  # d mean / d u = Var[x | u]
            u = u - (value - target) / slope
        return u.to(mean.dtype)

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return (0.5 * x.square() - x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if x.numel() and bool((x < 0).any()):
            raise ValueError(f"{name} must be non-negative for ReLU units; found {float(x.min()):g}")


class Gaussian(Units):
    """Real-valued units with per-unit variance ``sigma_i^2`` (Cho, Raiko & Ilin 2011).

    ``E_self(x; c) = sum_i (x_i - c_i)^2 / (2 sigma_i^2)`` (up to a constant in ``x``) with
    statistic ``s(x) = x / sigma^2``, so the RBM energy is

        E(v, h) = sum_i (v_i - a_i)^2 / (2 sigma_i^2) - b^T h - sum_ij (v_i / sigma_i^2) W_ij h_j,

    ``p(v | h) = N(a + W h, diag(sigma^2))`` and the hidden units see ``b + (v / sigma^2)^T W``.
    The variance is kept as ``log sigma^2`` (always positive) and learned when
    ``learn_sigma``; it is clamped to ``[min_sigma^2, max_sigma^2]`` after each update.
    With ``sigma = 1`` this is the tutorial's energy for standardised data.
    """

    name = "gaussian"

    def __init__(self, n_units: int | None = None, *, sigma: float = 1.0, learn_sigma: bool = False,
                 min_sigma: float = 1e-2, max_sigma: float = 1e2) -> None:
        if not 0 < min_sigma <= sigma <= max_sigma:
            raise ValueError(f"need 0 < min_sigma <= sigma <= max_sigma; found {min_sigma}, {sigma}, {max_sigma}")
        self.initial_sigma = float(sigma)
        self.learn_sigma = bool(learn_sigma)
        self.log_var_bounds = (2 * math.log(min_sigma), 2 * math.log(max_sigma))
        super().__init__(n_units)

    def bind(self, n_units: int) -> Units:
        """Also creates ``log_var``, ``log sigma^2`` per unit: a parameter if learned, else a buffer."""
        super().bind(n_units)
        if not hasattr(self, "log_var"):
            value = torch.full((n_units,), 2 * math.log(self.initial_sigma))
            if self.learn_sigma:
                self.log_var = nn.Parameter(value)
            else:
                self.register_buffer("log_var", value)
        return self

    @property
    def variance(self) -> Tensor:
        return self.log_var.exp()

    @property
    def sigma(self) -> Tensor:
        return (0.5 * self.log_var).exp()

    def statistic(self, x: Tensor) -> Tensor:
        return x * torch.exp(-self.log_var)

    def mean(self, pre: Tensor) -> Tensor:
        return pre

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype)
        return torch.addcmul(pre, noise, self.sigma.detach())

    def log_partition(self, pre: Tensor) -> Tensor:
        """``sum_i u_i^2 / (2 sigma_i^2) + log(2 pi sigma_i^2) / 2``."""
        return (0.5 * pre.square() * torch.exp(-self.log_var) + 0.5 * (math.log(2 * math.pi) + self.log_var)).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        return mean

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``sum_i (x_i^2 / 2 - c_i x_i) / sigma_i^2``: the tutorial's ``(x - c)^2 / (2 sigma^2)``
        without its constant ``c^2 / (2 sigma^2)``, which cancels from every probability."""
        return ((0.5 * x - bias) * x * torch.exp(-self.log_var)).sum(-1)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, weight: Tensor) -> dict[str, Tensor]:
        """``dF/d log sigma_i^2 = s_i(x) ((W E[h|x])_i + c_i - x_i / 2)``, weighted and summed."""
        if not self.log_var.requires_grad:
            return {}
        terms = self.statistic(x) * (field() + bias - 0.5 * x)
        return {"log_var": weight @ terms}

    def constrain_(self) -> None:
        """Keep ``log sigma^2`` within its bounds (called after each update)."""
        with torch.no_grad():
            self.log_var.clamp_(*self.log_var_bounds)

    #: Inputs beyond this magnitude would overflow the squares in a float32 energy.
    MAX_ABS = 1e15

    def check_values(self, x: Tensor, name: str) -> None:
        if x.numel():
            largest = float(x.detach().abs().max())
            if largest > self.MAX_ABS:
                raise ValueError(f"{name} holds values up to {largest:.3g} in magnitude; Gaussian units square "
                                 f"their inputs, so |x| must stay below {self.MAX_ABS:g} (standardise the data: "
                                 "torchrbm.datasets.standardize)")

    def check_training_data(self, x: Tensor, name: str) -> None:
        if x.shape[0] < 2:
            return
        x = x.double()
        std = x.std(0)
        constant = (std == 0).nonzero().flatten().tolist()
        if constant:
            raise ValueError(
                f"{name} has {len(constant)} column(s) with zero variance (first: column {constant[0]}); "
                "Gaussian units cannot model them: drop them, or standardise with "
                "torchrbm.datasets.standardize(..., drop_constant=True)"
            )
        if not self.learn_sigma and (bool((x.mean(0).abs() > 0.5).any()) or bool(((std - 1).abs() > 0.5).any())):
            warnings.warn(
                f"{name} is not standardised (column means {float(x.mean(0).abs().max()):.3g} and standard "
                f"deviations {float(std.min()):.3g} to {float(std.max()):.3g}) but the Gaussian units have a fixed "
                "sigma; standardise it (torchrbm.datasets.standardize) or pass learn_sigma=True",
                stacklevel=3,
            )

    def config(self) -> dict[str, Any]:
        low, high = (math.exp(0.5 * b) for b in self.log_var_bounds)
        return {"name": self.name, "sigma": self.initial_sigma, "learn_sigma": self.learn_sigma,
                "min_sigma": low, "max_sigma": high}


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
        nn.Module.__init__(self)
        self.n_units = None
        self.sizes = [size for _, size in parts]
        self.parts = nn.ModuleList(get_units(spec, size) for spec, size in parts)
        self.discrete = all(part.discrete for part in self.parts)
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

    def self_energy_bias_grad(self, x: Tensor, weight: Tensor | None = None) -> Tensor:
        return torch.cat([part.self_energy_bias_grad(piece, weight)
                          for part, piece in self._pieces(x)], -1)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, weight: Tensor) -> dict[str, Tensor]:
        grads = {}
        start = 0
        for index, (part, piece, part_bias) in enumerate(self._pieces(x, bias)):
            columns = slice(start, start + self.sizes[index])
            part_grads = part.free_energy_grads(piece, part_bias, lambda columns=columns: field()[..., columns], weight)
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


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))`` to the last bit of ``x``'s dtype: PyTorch's default returns ``x`` above 20, an
    error of ``log1p(exp(-20)) = 2e-9``, below float32's resolution there but not float64's."""
    return F.softplus(x, threshold=40.0 if x.dtype == torch.float64 else 20.0)


def _check_range(x: Tensor, name: str, low_bound: float, high_bound: float, kind: str, advice: str) -> None:
    if not x.numel():
        return
    low, high = torch.aminmax(x)
    if low < low_bound or high > high_bound:
        raise ValueError(
            f"{name} must lie in [{low_bound:g}, {high_bound:g}] for {kind} units; found values from "
            f"{low.item():g} to {high.item():g} ({advice})"
        )


_REGISTRY: dict[str, type[Units]] = {
    cls.name: cls for cls in (Bernoulli, Spin, Softmax, PooledBernoulli, ReLU, Gaussian, Blocks)
}


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
    name = str(options.pop("name", "")).lower()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown unit type {name!r}; known types: {known}")
    try:
        units = _REGISTRY[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for {name} units: {err}") from None
    return units.bind(n_units)
