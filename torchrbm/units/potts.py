"""Potts units: categorical variables held as integer codes (the positions of a sequence alignment)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .._utils.validation import check_positive_int
from .base import Units


class Potts(Units):
    """``n_units`` categorical units of ``q`` states each, held as integer codes ``0 .. q - 1``.

    A layer of ``L`` Potts units is an alignment's ``L`` positions: data and samples are
    ``(..., L)`` codes, the biases ``c`` have shape ``(L, q)`` and the weights to ``m`` other
    units ``(L, q, m)``.  With ``x_i`` the state of position ``i``,

        E_self(x; c) = -sum_i c_{i, x_i},     s(x)^T W h = sum_i sum_j W_{i, x_i, j} h_j,

    so the input to the other layer gathers one row of ``W`` per position (no one-hot
    product), the pre-activation of position ``i`` is ``u_i = c_i + W_i h`` (``q`` values) and

        p(x_i = a | u) = softmax(u_i)_a,     log_partition(u) = sum_i logsumexp_a u_{i, a}.

    The model is unchanged by adding a constant over ``a`` to ``c_i`` (and, with a matching
    shift of the other layer's biases, to ``W_{i, :, j}``): the *zero-sum gauge*
    ``sum_a c_{i, a} = 0`` is the one :meth:`bias_for_mean` picks.
    """

    name = "potts"
    discrete = True
    dense = False
    identity_statistic = False

    def __init__(self, q: int, n_units: int | None = None) -> None:
        self.q = check_positive_int(q, "q (states per Potts unit)", minimum=2)
        super().__init__(n_units)

    @property
    def field_shape(self) -> tuple[int, ...]:
        return (self.n_units, self.q)

    def _flat_codes(self, x: Tensor) -> Tensor:
        """Row ``i * q + x_i`` of the flattened ``(L * q, m)`` weights for each position, shape ``(-1, L)``."""
        offsets = torch.arange(0, self.n_units * self.q, self.q, device=x.device)
        return x.reshape(-1, self.n_units).long() + offsets

    def statistic(self, x: Tensor) -> Tensor:
        """The one-hot form of the codes, ``(..., L, q)``."""
        return F.one_hot(x.long(), self.q).to(self._float_dtype(x))

    def times_weights(self, x: Tensor, weights: Tensor, bias: Tensor | None = None) -> Tensor:
        """``bias + sum_i W[i, x_i]``: one gathered row of the weights per position, ``(..., m)``."""
        m = weights.shape[-1]
        summed = F.embedding_bag(self._flat_codes(x), weights.reshape(-1, m), mode="sum")
        summed = summed.reshape(*x.shape[:-1], m)
        return summed if bias is None else torch.add(bias, summed.to(bias.dtype))

    def weights_times(self, other: Tensor, weights: Tensor, bias: Tensor | None = None) -> Tensor:
        """``bias + W other``, shape ``(..., L, q)``.

        Computed as ``(L * q, M)`` (``M`` the rows of ``other``) and returned as a ``(..., L, q)`` view of
        it: the states of a position then lie ``M`` apart, so that :meth:`mean` and :meth:`mean_and_sample`
        reduce over them with every row in one vector lane (:func:`_states_major`)."""
        flat = weights.reshape(-1, weights.shape[-1])
        rows = other.reshape(-1, other.shape[-1]).to(flat.dtype).T
        if bias is not None and bias.shape == self.field_shape and bias.dtype == flat.dtype:
            product = torch.addmm(bias.reshape(-1, 1), flat, rows)
            bias = None
        else:
            product = flat @ rows
        product = product.view(self.n_units, self.q, -1).permute(2, 0, 1).reshape(*other.shape[:-1], *self.field_shape)
        return product if bias is None else torch.add(bias, product.to(bias.dtype))

    def weighted_outer(self, x: Tensor, other: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """``sum_n onehot(x_n) other_n^T``, ``(L, q, m)``: entry ``(i, a)`` is the sum of the rows of ``other``
        whose example has ``x_i = a`` (the bag ``(i, a)`` of :meth:`_bags`)."""
        return self._bag_sums(self._bags(x), other).reshape(self.n_units, self.q, -1)

    def outer_and_bias_grad(self, x: Tensor, other: Tensor, coefficients: Tensor,
                            dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """:meth:`weighted_outer` and :meth:`self_energy_bias_grad` from one sort of the codes: the bias
        gradient ``-sum_n c_n onehot(x_n)`` sums the bags' coefficients."""
        bags = self._bags(x)
        counts = self._bag_sums(bags, coefficients.to(self._float_dtype(x))[:, None])
        return self._bag_sums(bags, other).reshape(self.n_units, self.q, -1), counts.reshape(self.field_shape).neg_()

    def _bags(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The examples of ``x`` as ``L * q`` bags, bag ``(i, a)`` holding those with ``x_i = a``: the example
        indices sorted by state at each position (position-major) and where each bag starts."""
        codes = x.reshape(-1, self.n_units).long()
        by_state = torch.sort(codes.T, dim=1).indices.reshape(-1)
        counts = self._state_counts(codes).reshape(-1)
        return by_state, counts.cumsum(0) - counts

    @staticmethod
    def _bag_sums(bags: tuple[Tensor, Tensor], rows: Tensor) -> Tensor:
        """``(L * q, m)``: the sum of the ``rows`` of each bag.  An embedding bag over the sorted examples: no
        ``(n * L, m)`` copy of ``rows`` is made (that copy and an ``index_add_`` into it took twice as long)."""
        by_state, starts = bags
        return F.embedding_bag(by_state, rows, starts, mode="sum")

    @staticmethod
    def _float_dtype(x: Tensor) -> torch.dtype:
        return x.dtype if x.is_floating_point() else torch.get_default_dtype()

    def self_energy_bias_grad(self, x: Tensor, coefficients: Tensor | None = None) -> Tensor:
        """``-sum_n c_n onehot(x_n)``, shape ``(L, q)``: minus the weighted count of each state at each position."""
        dtype = self._float_dtype(x)
        return self._state_counts(x, None if coefficients is None else coefficients.to(dtype)).to(dtype).neg_()

    def _state_counts(self, x: Tensor, coefficients: Tensor | None = None) -> Tensor:
        """``sum_n c_n onehot(x_n)`` (``c_n = 1``: counts), shape ``(L, q)``, in ``coefficients``' dtype."""
        weights = None if coefficients is None else coefficients.repeat_interleave(self.n_units)
        counts = torch.bincount(self._flat_codes(x).reshape(-1), weights, minlength=self.n_units * self.q)
        return counts.reshape(self.field_shape)

    def squared_error(self, x: Tensor, mean: Tensor) -> Tensor:
        """``sum_i sum_a (onehot(x_i)_a - p_{i, a})^2 = sum_i (1 - 2 p_{i, x_i} + sum_a p_{i, a}^2)`` per
        example (no one-hot rows)."""
        states, _ = _states_major(mean)  # reductions over the states along all rows at once
        codes = x.reshape(-1, self.n_units).long().T[:, None]
        per_position = states.square().sum(1).sub_(states.gather(1, codes).squeeze(1), alpha=2).add_(1)
        return per_position.sum(0).reshape(x.shape[:-1])

    def data_mean(self, x: Tensor) -> Tensor:
        """The frequency of each state at each position, ``(L, q)`` in float64."""
        return self._state_counts(x).double() / x.reshape(-1, self.n_units).shape[0]

    def mean(self, pre: Tensor) -> Tensor:
        """``p(x_i = a | u) = softmax(u_i)_a``, ``(..., L, q)``."""
        states, restore = _states_major(pre)
        return restore(torch.softmax(states, 1))

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.mean_and_sample(pre, generator)[1]

    def point_estimate(self, mean: Tensor) -> Tensor:
        """The most probable state of each position, ``argmax_a p_i(a)``, as codes ``(..., L)`` in ``mean``'s
        dtype (inpainting fills a missing position with it)."""
        return mean.argmax(-1).to(mean.dtype)

    def mean_and_sample(self, pre: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """The probabilities ``(..., L, q)`` and one code per position ``(..., L)`` (in ``pre``'s dtype):
        the first state whose cumulative probability exceeds a uniform draw."""
        states, restore = _states_major(pre)
        mean = torch.softmax(states, 1)
        cumulative = mean.detach().cumsum(1)
        uniform = torch.rand(states.shape[0], 1, states.shape[2], generator=generator, device=pre.device,
                             dtype=pre.dtype)
        codes = cumulative.sub_(uniform).le_(0).sum(1).clamp_(max=self.q - 1)  # counts c_a <= u in floats: (L, M)
        return restore(mean), codes.T.reshape(pre.shape[:-1]).to(pre.dtype)

    def log_partition(self, pre: Tensor) -> Tensor:
        return torch.logsumexp(pre, -1).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """``log p_{i, a}`` with ``p >= 1e-3`` (renormalised), in the zero-sum gauge ``sum_a c_{i, a} = 0``."""
        p = mean.clamp(min=1e-3)
        log_p = torch.log(p / p.sum(-1, keepdim=True))
        return log_p - log_p.mean(-1, keepdim=True)

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``-sum_i c_{i, x_i}``; ``bias`` is ``(L, q)`` or one such per example."""
        codes = x.long()[..., None]
        return -bias.expand(*codes.shape[:-1], self.q).gather(-1, codes).squeeze(-1).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if not x.numel():
            return
        wrong = (x < 0) | (x > self.q - 1)
        if x.is_floating_point():
            wrong |= x != x.round()
        if bool(wrong.any()):
            index = tuple(int(i) for i in wrong.nonzero()[0])
            raise ValueError(f"{name} must hold integer codes 0 to {self.q - 1} for Potts units with q = {self.q}; "
                             f"found {float(x[index]):g} at {index}")

    def gauge_(self, bias: Tensor, weights: Tensor) -> Tensor:
        """The zero-sum gauge: ``c_i <- c_i - mean_a c_{i, a}`` and ``W_{i, :, j} <- W_{i, :, j} - m_{ij}`` with
        ``m_{ij} = mean_a W_{i, a, j}``.  The first shifts every energy by one constant; the second lowers the
        interaction by ``sum_i m_{ij}`` per unit of ``s(h_j)``, which the other layer's bias ``b_j`` gains back
        (the returned field ``sum_i m_{ij}``)."""
        bias.sub_(bias.mean(-1, keepdim=True))
        means = weights.mean(1, keepdim=True)  # (L, 1, m)
        weights.sub_(means)
        return means.sum((0, 1))

    def unit_states(self) -> Tensor:
        return torch.arange(self.q)

    def n_states(self, n_units: int) -> int:
        return self.q**n_units

    def states(self, n_units: int, start: int, stop: int, *, device=None, dtype=None) -> Tensor:
        """Codes of joint states ``start`` to ``stop - 1``, the first position varying fastest."""
        index = torch.arange(start, stop, device=device, dtype=torch.int64)
        place = self.q ** torch.arange(n_units, device=device, dtype=torch.int64)
        return ((index[:, None] // place) % self.q).to(dtype or torch.get_default_dtype())

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "q": self.q}


def _states_major(pre: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """``pre`` ``(..., L, q)`` as an ``(L, q, M)`` tensor (``M`` its rows), a view where ``pre`` is laid out
    that way (:meth:`Potts.weights_times`), and the function that turns such a tensor back into ``pre``'s
    shape.  Reductions over the ``q`` states then run along all ``M`` rows at once."""
    length, q = pre.shape[-2:]
    states = pre.reshape(-1, length, q).permute(1, 2, 0)
    if not states.is_contiguous():
        states = states.contiguous()
    return states, lambda values: values.permute(2, 0, 1).reshape(pre.shape)
