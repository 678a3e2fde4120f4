"""The model interface: what samplers, estimators, AIS, training and inpainting need from a model.

Every model in :mod:`torchrbm.models` built on
:class:`~torchrbm.models.base.BipartiteRBM` has it; a model of one's own needs only
these members (structural typing: no base class required) to be sampled, estimated and
trained.  Shapes: ``v`` is ``(..., n_visible)``, ``h`` is ``(..., n_hidden)``; per-example
values are ``(...)``.  Units whose states are integer codes (Potts units) may compute
their own product with the weights: nothing here assumes that ``W`` is a matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ..units import Units


@runtime_checkable
class EnergyModel(Protocol):
    """A model with a visible and a hidden layer, defined by its energy ``E(v, h)``."""

    visible: Units
    hidden: Units
    #: The parameters weight decay applies to (the others are biases and unit parameters).
    weight_names: tuple[str, ...]
    #: Whether ``center_grad`` applies (centred training).
    supports_centering: bool
    #: The dtype of the matrix products (``None``: the parameters' own).
    matmul_dtype: torch.dtype | None

    @property
    def n_visible(self) -> int: ...

    @property
    def n_hidden(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...

    def check_data(self, data: Any, name: str = "data") -> Tensor:
        """``data`` as a checked ``(n_examples, n_visible)`` tensor for this model."""

    def free_energy(self, v: Any) -> Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))``, shape ``(...)``."""

    def free_energy_hidden(self, h: Any) -> Tensor:
        """``F(h) = -log sum_v exp(-E(v, h))``, shape ``(...)``."""

    def hidden_preactivation(self, v: Any) -> Tensor:
        """The input to each hidden unit, shape ``(..., n_hidden)``."""

    def visible_preactivation(self, h: Any) -> Tensor:
        """The input to each visible unit, shape ``(..., n_visible)``."""

    def prob_h(self, v: Any) -> Tensor:
        """``E[h | v]``, shape ``(..., n_hidden)``."""

    def prob_v(self, h: Any) -> Tensor:
        """``E[v | h]``, shape ``(..., n_visible)``."""

    def sample_h(self, v: Any, generator: torch.Generator | None = None) -> Tensor:
        """``h ~ p(h | v)``."""

    def sample_v(self, h: Any, generator: torch.Generator | None = None) -> Tensor:
        """``v ~ p(v | h)``."""

    def hidden_step(self, v: Any, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(E[h | v], h ~ p(h | v))``."""

    def visible_step(self, h: Any, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(E[v | h], v ~ p(v | h))``."""

    def sample_from_visible_biases(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of ``v ~ p(v | h = 0)``, shape ``(n, n_visible)``."""

    def gibbs(self, v: Any, k: int = 1, generator: torch.Generator | None = None, *,
              progress: bool = False) -> Tensor:
        """``k`` block-Gibbs steps from ``v``."""

    def free_energy_grad(self, v: Any, h_mean: Tensor | None = None,
                         coefficients: Tensor | None = None) -> dict[str, Tensor]:
        """``sum_n c_n dF(v_n) / d theta`` by parameter name."""

    def constrain_(self) -> None:
        """Project the unit types' own parameters into their valid range."""

    def config(self) -> dict[str, Any]:
        """The class name and constructor arguments (JSON), for ``from_config``."""

    # what torch.nn.Module gives every model
    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, nn.Parameter]]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any: ...
