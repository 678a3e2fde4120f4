"""The restricted Boltzmann machine.

With visible units ``v`` (biases ``a``), hidden units ``h`` (biases ``b``) and
weights ``W`` of shape ``(n_visible, n_hidden)`` the joint energy is

    E(v, h) = E_vis(v; a) + E_hid(h; b) - v^T W h,

which for binary units is the familiar ``-a^T v - b^T h - v^T W h``.  Everything
else (conditionals, free energies, their gradients) follows from the unit types
in :mod:`torchrbm.units`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .._utils import kernels, threads
from .._utils.grad_mode import differentiable, make_grad_free
from .._utils.progress import Progress
from .._utils.rng import initial_normal
from .._utils.validation import (
    as_data_tensor,
    as_layer_tensor,
    check_nonnegative_float,
    check_positive_int,
    parameter_factory,
    trusted_inputs,
)
from ..units import Units, get_units
from .inpainting import clamped_gibbs, observed_input


class RBM(nn.Module):
    """Restricted Boltzmann machine with pluggable visible and hidden unit types.

    Parameters
    ----------
    n_visible, n_hidden:
        Layer sizes.
    visible, hidden:
        Unit types: a name (``"bernoulli"``, ``"gaussian"``, ``"spin"``), a configuration
        (``{"name": "softmax", "size": 10}``) or an instance of
        :class:`~torchrbm.units.Units` (``units.Gaussian(learn_sigma=True)``).
    data:
        Optional training data; if given, the visible biases are set so that a
        model without weights reproduces the data's mean (for binary units
        ``a_i = log(p_i / (1 - p_i))``), as Hinton's practical guide recommends.
    weight_std:
        Standard deviation of the initial weights, ``W ~ N(0, weight_std^2)``.
    generator:
        Random generator for the initial weights.
    device, dtype:
        Where the parameters live; every method follows them.

    Outputs and autograd (:mod:`torchrbm.grad_mode`): the methods in
    :attr:`grad_free_methods` return tensors without autograd history, ready for
    ``.numpy()``; calling the model, ``rbm(v)``, returns the free energy with it,
    and inside ``with torchrbm.differentiable():`` every method keeps it.
    """

    #: Methods whose outputs carry no autograd history outside :func:`~torchrbm.differentiable`;
    #: a subclass's own definitions of these names follow the same rule.
    grad_free_methods: tuple[str, ...] = (
        "energy", "free_energy", "free_energy_hidden", "hidden_preactivation", "visible_preactivation",
        "prob_h", "prob_v", "sample_h", "sample_v", "hidden_step", "visible_step", "sample_from_visible_biases",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        make_grad_free(cls, cls.grad_free_methods)

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: str | dict | Units = "bernoulli",
        hidden: str | dict | Units = "bernoulli",
        *,
        data=None,
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        n_visible = check_positive_int(n_visible, "n_visible")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        weight_std = check_nonnegative_float(weight_std, "weight_std")
        factory = parameter_factory(device, dtype)
        self.visible = get_units(visible, n_visible).to(**factory)
        self.hidden = get_units(hidden, n_hidden).to(**factory)
        if any(p.requires_grad for p in self.hidden.parameters()):
            raise ValueError("unit types with learned parameters (e.g. a learned sigma) are supported "
                             "for the visible layer only")
        weights = initial_normal(n_visible, n_hidden, generator=generator, **factory)
        self.W = nn.Parameter(weights.mul_(weight_std))
        self.a = nn.Parameter(torch.zeros(n_visible, **factory))
        self.b = nn.Parameter(torch.zeros(n_hidden, **factory))
        self._finish_init(data)

    def _finish_init(self, data) -> None:
        """State every model shares, set once its parameters exist; biases from ``data`` if given."""
        #: dtype of the matrix products (``None``: the parameters' own); see
        #: :func:`torchrbm.precision.mixed_precision`.
        self.matmul_dtype: torch.dtype | None = None
        self._rounded_weights: tuple[tuple[int, int, torch.dtype], Tensor] | None = None
        if data is not None:
            self.init_visible_bias(data)

    # ------------------------------------------------------------------ basics
    @property
    def n_visible(self) -> int:
        return self.W.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.W.shape[1]

    @property
    def device(self) -> torch.device:
        return self.W.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild an untrained model of the same shape."""
        return {
            "class": type(self).__name__,
            "n_visible": self.n_visible,
            "n_hidden": self.n_hidden,
            "visible": self.visible.config(),
            "hidden": self.hidden.config(),
        }

    def extra_repr(self) -> str:
        return (
            f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"visible={self.visible.name!r}, hidden={self.hidden.name!r}"
        )

    @torch.no_grad()
    def visible_bias_for(self, data) -> Tensor:
        """Visible biases with which the visible units alone reproduce the mean of ``data``
        (for binary units ``log(p / (1 - p))``); the mean is accumulated in float64."""
        data = as_data_tensor(data, n_features=self.n_visible, units=self.visible)
        mean = data.to(device=self.device, dtype=torch.float64).mean(0).to(self.dtype)
        return self.visible.bias_for_mean(mean)

    @torch.no_grad()
    def init_visible_bias(self, data) -> None:
        """Set ``a`` so that the visible units alone reproduce the mean of ``data``."""
        self.a.copy_(self.visible_bias_for(data))

    def _v(self, v) -> Tensor:
        """Visible states or means as a checked tensor on the parameters' device and dtype."""
        return as_layer_tensor(v, size=self.n_visible, units=self.visible, name="v (visible states)", like=self.W)

    def _h(self, h) -> Tensor:
        """Hidden states or means as a checked tensor on the parameters' device and dtype."""
        return as_layer_tensor(h, size=self.n_hidden, units=self.hidden, name="h (hidden states)", like=self.W)

    def _matmul_weights(self) -> Tensor:
        """``W`` rounded to :attr:`matmul_dtype`, cast once per update of ``W``.

        Under autograd the cast is recomputed so that gradients still reach ``W``.
        """
        dtype = self.matmul_dtype
        if dtype is None or dtype == self.W.dtype:
            return self.W
        if torch.is_grad_enabled() and self.W.requires_grad:
            return self.W.to(dtype)
        key = (self.W._version, self.W.data_ptr(), dtype)
        if self._rounded_weights is None or self._rounded_weights[0] != key:
            self._rounded_weights = (key, self.W.detach().to(dtype))
        return self._rounded_weights[1]

    # ---------------------------------------------------------- energy & free energy
    def hidden_preactivation(self, v) -> Tensor:
        """``b + v^T W``: the input to each hidden unit."""
        return _affine(self.visible.statistic(self._v(v)), self._matmul_weights(), self.b)

    def visible_preactivation(self, h) -> Tensor:
        """``a + W h``: the input to each visible unit."""
        return _affine(self.hidden.statistic(self._h(h)), self._matmul_weights().T, self.a)

    def energy(self, v, h) -> Tensor:
        """``E(v, h) = E_vis(v; a) + E_hid(h; b) - s_v(v)^T W s_h(h)``, one value per example
        (``s(x) = x`` for binary units: ``-a^T v - b^T h - v^T W h``)."""
        v, h = self._v(v), self._h(h)
        interaction = ((self.visible.statistic(v) @ self.W) * self.hidden.statistic(h)).sum(-1)
        return self.visible.self_energy(v, self.a) + self.hidden.self_energy(h, self.b) - interaction

    def free_energy(self, v) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h)) = E_vis(v; a) - log_partition_h(b + v^T W)``.

        For binary hidden units this is ``-a^T v - sum_j softplus(b_j + v^T W_:j)``.
        """
        v = self._v(v)
        return self.visible.self_energy(v, self.a) - self.hidden.log_partition(
            self.hidden_preactivation(v)
        )

    def free_energy_hidden(self, h) -> Tensor:
        """``F(h) = -log sum_v exp(-E(v, h)) = E_hid(h; b) - log_partition_v(a + W h)``."""
        h = self._h(h)
        return self.hidden.self_energy(h, self.b) - self.visible.log_partition(
            self.visible_preactivation(h)
        )

    def forward(self, v) -> Tensor:
        """``F(v)``, differentiable in the parameters: ``rbm(v)``, the ``nn.Module`` call.

        The same values as :meth:`free_energy`, with autograd history (under PyTorch's
        grad mode), so that ``rbm(v).mean().backward()`` reaches every parameter.
        """
        with differentiable():
            return self.free_energy(v)

    # ------------------------------------------------------------- conditionals
    def prob_h(self, v) -> Tensor:
        """``E[h | v]``; for binary units ``P(h_j = 1 | v) = sigmoid(b_j + v^T W_:j)``."""
        return self.hidden.mean(self.hidden_preactivation(v))

    def prob_v(self, h) -> Tensor:
        """``E[v | h]``; for binary units ``P(v_i = 1 | h) = sigmoid(a_i + W_i: h)``."""
        return self.visible.mean(self.visible_preactivation(h))

    def sample_h(self, v, generator: torch.Generator | None = None) -> Tensor:
        """A draw from ``p(h | v)``."""
        return self.hidden.sample(self.hidden_preactivation(v), generator)

    def sample_v(self, h, generator: torch.Generator | None = None) -> Tensor:
        """A draw from ``p(v | h)``."""
        return self.visible.sample(self.visible_preactivation(h), generator)

    def hidden_step(self, v, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(E[h | v], h ~ p(h | v))`` from one pre-activation."""
        return self.hidden.mean_and_sample(self.hidden_preactivation(v), generator)

    def visible_step(self, h, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(E[v | h], v ~ p(v | h))`` from one pre-activation."""
        return self.visible.mean_and_sample(self.visible_preactivation(h), generator)

    def sample_from_visible_biases(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of ``v ~ p(v | h = 0)``: each visible unit on its bias alone (a chain start)."""
        hidden_off = torch.zeros(n, self.n_hidden, device=self.device, dtype=self.dtype)
        return self.sample_v(hidden_off, generator)

    @threads.per_call(lambda arguments: (arguments["self"], arguments["v"]))
    @torch.no_grad()
    def gibbs(self, v, k: int = 1, generator: torch.Generator | None = None, *, progress: bool = False) -> Tensor:
        """Run ``k`` block-Gibbs steps ``v -> h ~ p(h|v) -> v ~ p(v|h)`` and return ``v``;
        ``progress`` reports the steps done on stderr (:mod:`torchrbm.progress`)."""
        k = check_positive_int(k, "k", minimum=0)
        v = self._v(v)
        with trusted_inputs():
            for _ in Progress(range(k), desc="Gibbs sampling", unit="step", enabled=progress):
                v = self.sample_v(self.sample_h(v, generator), generator)
        return v

    @threads.per_call(lambda arguments: (arguments["self"], arguments["v"]))
    @torch.no_grad()
    def inpaint(self, v, mask, steps: int = 1000, *, burn_in: int | None = None,
                generator: torch.Generator | None = None, progress: bool = False) -> Tensor:
        """Fill in the visible units where ``mask`` is ``True``, given the others.

        Gibbs sampling with the observed units clamped (:mod:`torchrbm.inpainting`);
        the missing units start from ``p(v | h = 0)`` and come back as
        ``E[v_m | v_o]``, averaged over the ``steps - burn_in`` last steps
        (``burn_in`` defaults to ``steps // 2``).  ``mask`` has shape ``(n_visible,)``
        or that of ``v``; the missing entries of ``v`` may hold anything (NaN, say).
        ``progress`` reports the steps done on stderr (:mod:`torchrbm.progress`).
        """
        v, mask, start = observed_input(self, v, mask, generator)
        return clamped_gibbs(lambda x: self.visible_step(self.sample_h(x, generator), generator),
                             v, mask, start, steps, burn_in, progress=progress)

    # ----------------------------------------------------------------- gradients
    @torch.no_grad()
    def free_energy_grad(self, v, h_mean: Tensor | None = None, weight: Tensor | None = None) -> dict[str, Tensor]:
        """Gradient of the weighted free energy ``sum_n w_n F(v_n)`` for each trained parameter.

        With ``s(v)`` the visible statistic (``v`` for binary units) and ``E[h|v]`` the
        hidden mean::

            dF/dW = -sum_n w_n s(v_n) E[h|v_n]^T,  dF/da = -sum_n w_n s(v_n),  dF/db = -sum_n w_n E[h|v_n],

        plus the gradients of the visible unit type's own parameters (``visible.*``).
        ``w_n = 1/N`` by default; weights may be negative, so one call gives the
        gradient of the negative log-likelihood, ``<dF>_data - <dF>_model``, from
        data and model samples stacked with weights ``+1/N`` and ``-1/M``.
        ``h_mean`` (``E[h | v]``) may be passed when it is already known.
        """
        v = self._v(v)
        if h_mean is None:
            h_mean = self.prob_h(v)
        if weight is None:
            weight = uniform_weights(v.shape[0], v)
        weight = weight.to(self.dtype)
        negative_weighted_h = h_mean * weight.neg()[:, None]  # -w_n E[h|v_n]: the sign folded into the small factor
        dtype = self._matmul_weights().dtype
        statistic = self.visible.statistic(v)
        grads = {
            "W": kernels.mm(statistic.T.to(dtype), negative_weighted_h.to(dtype)).to(self.dtype),
            "a": self.visible.self_energy_bias_grad(v, weight),
            "b": negative_weighted_h.sum(0),
        }
        unit_grads = self.visible.free_energy_grads(v, self.a, lambda: h_mean @ self.W.T, weight)
        grads.update({f"visible.{name}": grad for name, grad in unit_grads.items()})
        return grads

    def constrain_(self) -> None:
        """Project the unit types' own parameters back into their valid range (after an update)."""
        self.visible.constrain_()
        self.hidden.constrain_()

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

    @classmethod
    def from_config(cls, config: dict[str, Any], **factory) -> RBM:
        """An untrained model with the shape and unit types in ``config``."""
        return cls(
            config["n_visible"],
            config["n_hidden"],
            visible=config.get("visible", "bernoulli"),
            hidden=config.get("hidden", "bernoulli"),
            **factory,
        )


make_grad_free(RBM, RBM.grad_free_methods)


def uniform_weights(n: int, like: Tensor, total: float = 1.0) -> Tensor:
    """``n`` equal weights summing to ``total`` (``1/N`` each: a mean), on ``like``'s device and dtype."""
    return torch.full((n,), total / n, device=like.device, dtype=like.dtype)


def _affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``bias + x @ weight`` for any number of leading dimensions, in ``bias``' dtype.

    A ``weight`` of lower precision (mixed precision) rounds ``x`` to its dtype for the product.
    """
    if weight.dtype != bias.dtype:
        return torch.add(bias, x.to(weight.dtype) @ weight)
    if x.ndim == 2:
        return kernels.addmm(bias, x, weight)
    return x @ weight + bias
