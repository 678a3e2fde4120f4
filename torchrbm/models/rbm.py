"""The restricted Boltzmann machine.

With visible units ``v`` (biases ``a``), hidden units ``h`` (biases ``b``) and
weights ``W`` of shape ``(n_visible, n_hidden)`` the joint energy is

    E(v, h) = E_vis(v; a) + E_hid(h; b) - v^T W h,

which for binary units is the familiar ``-a^T v - b^T h - v^T W h``.  Everything
else (conditionals, free energies, their gradients) follows from the unit types
in :mod:`torchrbm.units`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import BipartiteRBM


class RBM(BipartiteRBM):
    """Restricted Boltzmann machine with pluggable visible and hidden unit types: weights ``W``
    of shape ``(n_visible, n_hidden)``, visible biases ``a`` and hidden biases ``b``.

    Parameters are those of :class:`~torchrbm.models.base.BipartiteRBM`: ``n_visible``,
    ``n_hidden``, the unit types ``visible`` and ``hidden`` (names, configurations or
    :class:`~torchrbm.units.Units` instances), ``data`` (visible biases from its mean),
    ``weight_std``, ``generator``, ``device`` and ``dtype``.
    """

    config_fields = ("n_visible", "n_hidden")
    hidden_input_names = ("W", "b")

    def fixed_parameters(self) -> tuple[str, ...]:
        """``b`` when the hidden units carry their own bias (dReLU): it stays zero."""
        return ("b",) if self.hidden.carries_bias else ()

    @torch.no_grad()
    def constrain_(self) -> None:
        """The unit types' own parameters into their range, and the weights and visible biases into the
        visible units' gauge (Potts units: zero-sum), with the hidden biases compensating."""
        super().constrain_()
        shift = self.visible.gauge_(self.a, self.W)
        if shift is not None and self.hidden.carries_bias:
            self.hidden.absorb_bias_(shift)
        elif shift is not None:
            self.b.add_(shift.to(self.b.dtype))

    @property
    def supports_centering(self) -> bool:
        """Centring applies to dense visible units (a weight matrix)."""
        return self.visible.dense

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """``W``: ``(n_visible, n_hidden)`` (``(L, q, n_hidden)`` for Potts units), ``a``: the visible
        units' field shape, ``b``: ``(n_hidden,)``."""
        field = self.visible.field_shape
        return {"W": (*field, self.n_hidden), "a": field, "b": (self.n_hidden,)}

    def hidden_preactivation(self, v) -> Tensor:
        """``b + s(v)^T W``: the input to each hidden unit (the visible units compute the product)."""
        return self.visible.times_weights(self._v(v), self._matmul_weights(), self.b)

    def visible_preactivation(self, h) -> Tensor:
        """``a + W s(h)``: the input to each visible unit, shape ``(..., *visible.field_shape)``."""
        return self.visible.weights_times(self.hidden.statistic(self._h(h)), self._matmul_weights(), self.a)

    def to_linear(self) -> nn.Linear:
        """The hidden pre-activation as a layer of a feed-forward network, ``Linear(W^T, b)``, initialised
        from (and independent of) this model's parameters; dense visible units only."""
        if not self.visible.dense:
            raise TypeError(f"a feed-forward layer needs dense visible units; {self.visible.name} units compute "
                            "their own product with the weights")
        linear = nn.Linear(self.n_visible, self.n_hidden, device=self.device, dtype=self.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.W.T)
            linear.bias.copy_(self.b)
        return linear

    def interaction(self, v: Tensor, h: Tensor) -> Tensor:
        """``s_v(v)^T W s_h(h)`` (``v^T W h`` for binary units)."""
        return (self.visible.times_weights(v, self.W) * self.hidden.statistic(h)).sum(-1)

    def visible_field(self, h_mean: Tensor) -> Tensor:
        """``W E[h]``."""
        return self.visible.weights_times(h_mean, self.W)

    def interaction_grads(self, v: Tensor, h_mean: Tensor, coefficients: Tensor) -> dict[str, Tensor]:
        """``dF/dW = -sum_n c_n s(v_n) E[h|v_n]^T``, ``dF/da = -sum_n c_n s(v_n)``, ``dF/db = -sum_n c_n E[h|v_n]``."""
        negative_weighted_h = h_mean * coefficients.neg()[:, None]  # the sign folded into the small factor
        grad_w, grad_a = self.visible.outer_and_bias_grad(v, negative_weighted_h, coefficients,
                                                          self._matmul_weights().dtype)
        return {"W": grad_w, "a": grad_a, "b": negative_weighted_h.sum(0)}

    @torch.no_grad()
    def center_grad(self, grads: dict[str, Tensor], visible_offset: Tensor, hidden_offset: Tensor) -> None:
        """Turn a gradient into the centred gradient (Melchior, Fischer & Wiskott 2016), in place.

        For the energy ``-(v - mu)^T W (h - lambda) - a_c^T (v - mu) - b_c^T (h - lambda)`` the
        gradient is ``g_W^c = g_W - mu g_b^T - g_a lambda^T`` with unchanged ``g_a``, ``g_b``.
        Mapped back to this RBM's ordinary parameters (``a = a_c - W lambda``,
        ``b = b_c - W^T mu``): ``g_W <- g_W^c``, ``g_a <- g_a - g_W^c lambda``,
        ``g_b <- g_b - (g_W^c)^T mu``.
        """
        grad_w = grads["W"]
        grad_w.sub_(torch.outer(visible_offset, grads["b"])).sub_(torch.outer(grads["a"], hidden_offset))
        grads["a"].sub_(grad_w @ hidden_offset)
        grads["b"].sub_(grad_w.T @ visible_offset)
