"""The base class of the bipartite models: a visible and a hidden layer and their energy.

With visible units ``v`` (biases ``a``), hidden units ``h`` (biases ``b``) and an
interaction term that each model defines (``s_v(v)^T W s_h(h)`` for a dense RBM, a
convolution for :class:`~torchrbm.ConvRBM`), the joint energy is

    E(v, h) = E_vis(v; a) + E_hid(h; b) - interaction(v, h),

and everything else (conditionals, free energies, their gradients) follows from the
pre-activations ``b + d interaction / d s_h`` and ``a + d interaction / d s_v`` and the
unit types in :mod:`torchrbm.units`.  This class holds what every such model shares: the
constructor (device and dtype, unit binding, parameter allocation and initialisation),
the conditionals, Gibbs sampling, inpainting, the free-energy gradient as a template
and the configuration; a model defines its parameters' shapes, its two
pre-activations, its interaction and the gradient of its interaction.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor, nn

from .._utils import threads
from .._utils.grad_mode import differentiable, make_grad_free
from .._utils.memory import allocate
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
from .registry import RegisteredModel


class BipartiteRBM(RegisteredModel, nn.Module, abc.ABC):
    """A model with one visible and one hidden layer of pluggable unit types.

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

    A subclass sets the plain attributes its shapes depend on (filter sizes, say),
    then calls this constructor, which binds the unit types, allocates the parameters
    named by :meth:`parameter_shapes` and initialises them with :meth:`reset_parameters`.

    Outputs and autograd (:mod:`torchrbm.grad_mode`): the methods in
    :attr:`grad_free_methods` return tensors without autograd history, ready for
    ``.numpy()``; calling the model, ``model(v)``, returns the free energy with it,
    and inside ``with torchrbm.differentiable():`` every method keeps it.
    """

    #: Methods whose outputs carry no autograd history outside :func:`~torchrbm.differentiable`;
    #: a subclass's own definitions of these names follow the same rule.
    grad_free_methods: tuple[str, ...] = (
        "energy", "free_energy", "free_energy_hidden", "hidden_preactivation", "visible_preactivation",
        "prob_h", "prob_v", "sample_h", "sample_v", "hidden_step", "visible_step", "sample_from_visible_biases",
    )
    #: The parameters drawn from ``N(0, weight_std^2)`` by :meth:`reset_parameters`, in that order
    #: (the others start at zero); weight decay applies to them.
    weight_names: tuple[str, ...] = ("W",)
    #: The constructor arguments that :meth:`config` records besides the unit types.
    config_fields: tuple[str, ...] = ()
    #: Whether :meth:`center_grad` applies (centred training, ``fit(..., centered=True)``).
    supports_centering: bool = False
    #: The name of the visible biases' parameter (the fields that ``fit(..., l2_fields=)`` penalises).
    visible_bias_name: str = "a"
    #: The parameters that feed the hidden units, hidden axis last (:meth:`rescale_hidden_`).
    hidden_input_names: tuple[str, ...] = ()

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
        self.weight_std = check_nonnegative_float(weight_std, "weight_std")
        factory = parameter_factory(device, dtype)
        self.visible = get_units(visible, n_visible).to(**factory)
        self.hidden = get_units(hidden, n_hidden).to(**factory)
        if any(p.requires_grad for p in self.hidden.parameters()) and not self.hidden.learns_as_hidden:
            raise ValueError(f"{self.hidden.name} units with learned parameters (e.g. a learned sigma) are supported "
                             "for the visible layer only")
        for name, shape in self.parameter_shapes().items():
            setattr(self, name, nn.Parameter(allocate(shape, **factory)))
        for name in self.fixed_parameters():
            getattr(self, name).requires_grad_(False)
        #: dtype of the matrix products (``None``: the parameters' own); see
        #: :func:`torchrbm.precision.mixed_precision`.
        self.matmul_dtype: torch.dtype | None = None
        self._rounded_weights: tuple[tuple[int, int, torch.dtype], Tensor] | None = None
        self.reset_parameters(data=data, generator=generator)

    # ------------------------------------------------------------------ structure
    @abc.abstractmethod
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each of this model's own parameters (its unit types' come on top), in order."""

    def fixed_parameters(self) -> tuple[str, ...]:
        """Parameters that stay at their initial value (zero) and do not train: a hidden bias that the
        hidden units carry themselves (:attr:`~torchrbm.units.Units.carries_bias`), say."""
        return ()

    @torch.no_grad()
    def reset_parameters(self, data=None, generator: torch.Generator | None = None) -> None:
        """Draw each of :attr:`weight_names` from ``N(0, weight_std^2)`` (with ``generator``, in that
        order), set every other parameter to zero and, given ``data``, the visible biases from its
        mean (:meth:`init_visible_bias`)."""
        for name in self.parameter_shapes():
            parameter = getattr(self, name)
            if name in self.weight_names:
                draw = initial_normal(*parameter.shape, generator=generator, device=parameter.device,
                                      dtype=parameter.dtype)
                parameter.copy_(draw.mul_(self.weight_std))
            else:
                parameter.zero_()
        if data is not None:
            self.init_visible_bias(data)

    @property
    def n_visible(self) -> int:
        return self.visible.n_units

    @property
    def n_hidden(self) -> int:
        return self.hidden.n_units

    @property
    def device(self) -> torch.device:
        return self.W.device

    @property
    def dtype(self) -> torch.dtype:
        return self.W.dtype

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild an untrained model of the same shape: the class name,
        :attr:`config_fields` and the unit types."""
        fields = {name: _jsonable(getattr(self, name)) for name in self.config_fields}
        return {"class": type(self).__name__, **fields, **self.units_config()}

    def units_config(self) -> dict[str, Any]:
        """The unit types as :meth:`config` records them (and :meth:`from_config` passes them on)."""
        return {"visible": self.visible.config(), "hidden": self.hidden.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any], **factory: Any) -> BipartiteRBM:
        """An untrained model with the shape and unit types in ``config`` (``factory``: ``device=``,
        ``dtype=``); fields missing from an older configuration take the constructor's defaults."""
        fields = {name: config[name] for name in cls.config_fields if name in config}
        units = {layer: config.get(layer, "bernoulli") for layer in ("visible", "hidden")}
        return cls(**fields, **units, **factory)

    def extra_repr(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)}" for name in self.config_fields)
        return f"{fields}, visible={self.visible.name!r}, hidden={self.hidden.name!r}"

    # ------------------------------------------------------------------ inputs
    def check_data(self, data, name: str = "data") -> Tensor:
        """``data`` as a checked 2-D tensor for this model (:func:`~torchrbm.validation.as_data_tensor`
        against the visible units: type, shape, finiteness, the units' range)."""
        return as_data_tensor(data, name=name, n_features=self.n_visible, units=self.visible)

    def _v(self, v) -> Tensor:
        """Visible states or means as a checked tensor on the parameters' device and dtype."""
        return as_layer_tensor(v, size=self.n_visible, units=self.visible, name="v (visible states)", like=self.W)

    def _h(self, h) -> Tensor:
        """Hidden states or means as a checked tensor on the parameters' device and dtype."""
        return as_layer_tensor(h, size=self.n_hidden, units=self.hidden, name="h (hidden states)", like=self.W)

    @torch.no_grad()
    def visible_bias_for(self, data) -> Tensor:
        """Visible biases with which the visible units alone reproduce the mean of ``data``
        (for binary units ``log(p / (1 - p))``); the mean is accumulated in float64."""
        mean = self.visible.data_mean(self.check_data(data).to(self.device))
        return self.visible.bias_for_mean(mean.to(self.dtype))

    @torch.no_grad()
    def init_visible_bias(self, data) -> None:
        """Set ``a`` so that the visible units alone reproduce the mean of ``data``."""
        self.a.copy_(self.visible_bias_for(data))

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
    @abc.abstractmethod
    def hidden_preactivation(self, v) -> Tensor:
        """The input to each hidden unit: its bias plus the input from ``s_v(v)``."""

    @abc.abstractmethod
    def visible_preactivation(self, h) -> Tensor:
        """The input to each visible unit: its bias plus the input from ``s_h(h)``."""

    @abc.abstractmethod
    def interaction(self, v: Tensor, h: Tensor) -> Tensor:
        """The interaction term of the energy for checked states, one value per example."""

    def energy(self, v, h) -> Tensor:
        """``E(v, h) = E_vis(v; a) + E_hid(h; b) - interaction(v, h)``, one value per example."""
        v, h = self._v(v), self._h(h)
        return self.visible.self_energy(v, self.a) + self.hidden.self_energy(h, self.b) - self.interaction(v, h)

    def free_energy(self, v) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h)) = E_vis(v; a) - log_partition_h(hidden pre-activation)``.

        For binary hidden units this is ``-a^T v - sum_j softplus(b_j + v^T W_:j)``.
        """
        v = self._v(v)
        return self.visible.self_energy(v, self.a) - self.hidden.log_partition(self.hidden_preactivation(v))

    def free_energy_hidden(self, h) -> Tensor:
        """``F(h) = -log sum_v exp(-E(v, h)) = E_hid(h; b) - log_partition_v(visible pre-activation)``."""
        h = self._h(h)
        return self.hidden.self_energy(h, self.b) - self.visible.log_partition(self.visible_preactivation(h))

    def forward(self, v) -> Tensor:
        """``F(v)``, differentiable in the parameters: ``model(v)``, the ``nn.Module`` call.

        The same values as :meth:`free_energy`, with autograd history (under PyTorch's
        grad mode), so that ``model(v).mean().backward()`` reaches every parameter.
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

        Gibbs sampling with the observed units clamped (:mod:`torchrbm.models.inpainting`);
        the missing units start from ``p(v | h = 0)`` and come back as
        ``E[v_m | v_o]``, averaged over the ``steps - burn_in`` last steps
        (``burn_in`` defaults to ``steps // 2``); for Potts units, each missing position's most probable
        state under that average (:meth:`~torchrbm.units.Units.point_estimate`).  ``mask`` has shape ``(n_visible,)``
        or that of ``v``; the missing entries of ``v`` may hold anything (NaN, say).
        ``progress`` reports the steps done on stderr (:mod:`torchrbm.progress`).
        """
        v, mask, start = observed_input(self, v, mask, generator)
        return clamped_gibbs(lambda x: self.visible_step(self.sample_h(x, generator), generator),
                             v, mask, start, steps, burn_in, progress=progress, estimate=self.visible.point_estimate)

    # ----------------------------------------------------------------- gradients
    @torch.no_grad()
    def free_energy_grad(self, v, h_mean: Tensor | None = None, coefficients: Tensor | None = None,
                         ) -> dict[str, Tensor]:
        """Gradient of the weighted free energy ``sum_n c_n F(v_n)`` for each trained parameter.

        With ``s(v)`` the visible statistic (``v`` for binary units) and ``E[h|v]`` the hidden
        mean, for a dense RBM::

            dF/dW = -sum_n c_n s(v_n) E[h|v_n]^T,  dF/da = -sum_n c_n s(v_n),  dF/db = -sum_n c_n E[h|v_n],

        (the model's :meth:`interaction_grads`), plus the gradients of the visible unit type's
        own parameters (``visible.*``).  ``c_n = 1/N`` by default; the coefficients may be
        negative, so that one call gives the gradient of the negative log-likelihood,
        ``<dF>_data - <dF>_model``, from data and model samples stacked with coefficients
        ``+1/N`` and ``-1/M``.  ``h_mean`` (``E[h | v]``) may be passed when it is already known.
        """
        v = self._v(v)
        if h_mean is None:
            h_mean = self.prob_h(v)
        if coefficients is None:
            coefficients = uniform_coefficients(v.shape[0], v)
        coefficients = coefficients.to(self.dtype)
        grads = self.interaction_grads(v, h_mean, coefficients)
        unit_grads = self.visible.free_energy_grads(v, self.a, lambda: self.visible_field(h_mean), coefficients)
        grads.update({f"visible.{name}": grad for name, grad in unit_grads.items()})
        if self.hidden.learns_as_hidden:  # F(v) = E_vis(v) - log_partition_h(pre): minus its gradients
            hidden_grads = self.hidden.log_partition_grads(self.hidden_preactivation(v), coefficients)
            grads.update({f"hidden.{name}": grad.neg() for name, grad in hidden_grads.items()})
        for name in self.fixed_parameters():
            grads.pop(name, None)
        return grads

    @abc.abstractmethod
    def interaction_grads(self, v: Tensor, h_mean: Tensor, coefficients: Tensor) -> dict[str, Tensor]:
        """``sum_n c_n dF(v_n) / d theta`` for this model's own parameters (weights and biases), given
        the checked ``v``, ``E[h | v]`` and the coefficients ``c_n``."""

    @abc.abstractmethod
    def visible_field(self, h_mean: Tensor) -> Tensor:
        """The input to the visible units from hidden means, without the biases (``W E[h]`` for a
        dense RBM): what the visible unit types' own gradients need."""

    def constrain_(self) -> None:
        """Project the unit types' own parameters back into their valid range (after an update)."""
        self.visible.constrain_()
        self.hidden.constrain_()

    @torch.no_grad()
    def rescale_hidden_(self, scale: Tensor) -> None:
        """Scale the hidden units, ``h -> c h`` (``c = scale``, one per unit) for units with
        :attr:`~torchrbm.units.Units.scale_invariant`: their own parameters change
        (:meth:`~torchrbm.units.Units.rescale_`) and every parameter feeding them
        (:attr:`hidden_input_names`, hidden axis last) is divided by ``c``, so ``p(v)`` stays the same."""
        if not self.hidden_input_names:
            raise NotImplementedError(f"{type(self).__name__} does not rescale the weights into its hidden units")
        self.hidden.rescale_(scale)
        for name in self.hidden_input_names:
            parameter = self.get_parameter(name)
            parameter.div_(scale.to(parameter.dtype))


make_grad_free(BipartiteRBM, BipartiteRBM.grad_free_methods)


def uniform_coefficients(n: int, like: Tensor, total: float = 1.0) -> Tensor:
    """``n`` equal coefficients summing to ``total`` (``1/N`` each: a mean), on ``like``'s device and dtype."""
    return torch.full((n,), total / n, device=like.device, dtype=like.dtype)


def _jsonable(value: Any) -> Any:
    """Tuples as lists, as JSON stores them."""
    return list(value) if isinstance(value, tuple) else value
