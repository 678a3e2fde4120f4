"""Samplers: where the negative phase of the likelihood gradient comes from.

The log-likelihood gradient of an RBM is

    d log p(v) / d theta = -<dF/d theta>_data + <dF/d theta>_model,

and a sampler supplies the visible states (and, optionally, weights) standing in
for the model distribution.  Any sampler works with any model that has
``hidden_step``, ``visible_step``, ``sample_h``, ``sample_v`` and ``prob_h``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .enumeration import enumerated_layer, iter_states, layer_free_energy
from .validation import check_positive_int


@dataclass
class NegativePhase:
    """Model statistics: visible states, ``E[h | v]`` and optional weights summing to 1."""

    v: Tensor
    h: Tensor
    weight: Tensor | None = None


class Sampler(abc.ABC):
    """Produces the negative phase for one gradient step."""

    @abc.abstractmethod
    def negative_phase(
        self, model, v_data: Tensor, h_data: Tensor, generator: torch.Generator | None = None
    ) -> NegativePhase:
        """Negative statistics, given a batch of data and hidden states sampled from it."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget any persistent state (called when training starts afresh)."""

    def state_dict(self) -> dict[str, Tensor]:
        """Persistent state to checkpoint (empty for stateless samplers)."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`state_dict` returned."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """Name and settings, for run metadata."""


class CD(Sampler):
    """Contrastive divergence CD-k (Hinton 2002).

    The chain starts at the data: ``v0 -> h0 ~ p(h|v0) -> v1 ~ p(v|h0) -> ... -> v_k``;
    the negative statistics are ``(v_k, E[h | v_k])``.
    """

    def __init__(self, k: int = 1) -> None:
        self.k = check_positive_int(k, "k")

    def negative_phase(self, model, v_data, h_data, generator=None) -> NegativePhase:
        h = h_data
        for step in range(self.k):
            v = model.sample_v(h, generator)
            if step < self.k - 1:
                h = model.sample_h(v, generator)
        return NegativePhase(v, model.prob_h(v))

    def config(self) -> dict[str, Any]:
        return {"name": "cd", "k": self.k}

    def __repr__(self) -> str:
        return f"CD(k={self.k})"


class PCD(Sampler):
    """Persistent contrastive divergence (Tieleman 2008).

    ``n_chains`` fantasy particles persist across updates; each update advances
    them by ``k`` Gibbs steps.  They start from the visible biases alone,
    ``v ~ p(v | h = 0)``.
    """

    def __init__(self, n_chains: int = 100, k: int = 1) -> None:
        self.n_chains = check_positive_int(n_chains, "n_chains")
        self.k = check_positive_int(k, "k")
        self.chains: Tensor | None = None

    def negative_phase(self, model, v_data, h_data, generator=None) -> NegativePhase:
        v = self.chains
        if v is None or v.shape[-1] != model.n_visible or v.device != model.device:
            hidden_off = torch.zeros(self.n_chains, model.n_hidden, device=model.device, dtype=model.dtype)
            v = model.sample_v(hidden_off, generator)
        for _ in range(self.k):
            v = model.sample_v(model.sample_h(v, generator), generator)
        self.chains = v
        return NegativePhase(v, model.prob_h(v))

    def reset(self) -> None:
        self.chains = None

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self.chains is None else {"chains": self.chains}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.chains = state.get("chains")

    def config(self) -> dict[str, Any]:
        return {"name": "pcd", "n_chains": self.n_chains, "k": self.k}

    def __repr__(self) -> str:
        return f"PCD(n_chains={self.n_chains}, k={self.k})"


class Exact(Sampler):
    """The exact model distribution, by enumerating the smaller layer (small models only).

    Enumerating visible states ``v`` gives weights ``p(v) = exp(-F(v)) / Z`` and
    statistics ``(v, E[h|v])``; enumerating hidden states ``h`` gives weights
    ``p(h)`` and statistics ``(E[v|h], h)``, which is exact because the
    sufficient statistics are linear in ``v``.  With this sampler ``fit`` follows
    the true log-likelihood gradient.
    """

    #: Largest layer enumerated at every step (2**20 states).
    max_units = 20

    def negative_phase(self, model, v_data, h_data, generator=None) -> NegativePhase:
        layer, size = enumerated_layer(model)
        if size > self.max_units:
            raise ValueError(f"the Exact sampler enumerates at most {self.max_units} units; found {size}")
        states = torch.cat(list(iter_states(model, layer)))
        weight = torch.softmax(-layer_free_energy(model, layer)(states), 0)
        if layer == "visible":
            return NegativePhase(states, model.prob_h(states), weight)
        return NegativePhase(model.prob_v(states), states, weight)

    def config(self) -> dict[str, Any]:
        return {"name": "exact"}

    def __repr__(self) -> str:
        return "Exact()"


def get_sampler(spec: str | Sampler, *, k: int = 1, n_chains: int = 100) -> Sampler:
    """A sampler from its name (``"cd"``, ``"pcd"``, ``"exact"``) or pass an instance through."""
    if isinstance(spec, Sampler):
        return spec
    name = str(spec).lower()
    if name == "cd":
        return CD(k=k)
    if name == "pcd":
        return PCD(n_chains=n_chains, k=k)
    if name == "exact":
        return Exact()
    raise ValueError(f"unknown sampler {spec!r}; known samplers: cd, pcd, exact")
