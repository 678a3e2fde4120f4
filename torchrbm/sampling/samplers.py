"""Samplers: where the negative phase of the likelihood gradient comes from.

The log-likelihood gradient of an RBM is

    d log p(v) / d theta = -<dF/d theta>_data + <dF/d theta>_model,

and a sampler supplies the visible states (and, optionally, weights) standing in
for the model distribution.  Any sampler works with any model that has
``hidden_step``, ``visible_step``, ``sample_h``, ``sample_v`` and ``prob_h``.
"""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._utils.registry import Registry
from .._utils.validation import check_positive_int
from ..models.protocol import EnergyModel
from .enumeration import enumerated_layer, iter_states, layer_free_energy
from .tempering import TemperedPath


@dataclass
class NegativePhase:
    """Model statistics: visible states ``v`` ``(M, n_visible)``, ``E[h | v]`` ``(M, n_hidden)`` and
    optional per-sample importance weights ``(M,)`` summing to 1 (``None``: ``1/M`` each)."""

    v: Tensor
    h: Tensor
    sample_weight: Tensor | None = None

    @property
    def weight(self) -> Tensor | None:
        """The former name of :attr:`sample_weight`."""
        return self.sample_weight


#: Every sampler class by name, built-in or defined in user code (filled by :meth:`Sampler.__init_subclass__`).
SAMPLERS: Registry[Sampler] = Registry("sampler")


class Sampler(abc.ABC):
    """Produces the negative phase for one gradient step.

    A subclass that sets :attr:`name` registers itself (:data:`SAMPLERS`), so that
    :func:`get_sampler` and :meth:`from_config` find it by that name.
    """

    #: Name in configurations and on the command line.
    name: str = ""

    #: Whether the chains start at the data's hidden sample; only then does ``fit``
    #: draw ``h_data ~ p(h | v_data)`` (otherwise ``h_data`` is ``None``).
    starts_from_data: bool = False

    @abc.abstractmethod
    def negative_phase(
        self, model: EnergyModel, v_data: Tensor, h_data: Tensor, generator: torch.Generator | None = None
    ) -> NegativePhase:
        """Negative statistics, given a batch of data and (for samplers that
        :attr:`start from the data <starts_from_data>`) hidden states sampled from it."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget any persistent state (called when training starts afresh)."""

    def state_dict(self) -> dict[str, Tensor]:
        """Persistent state to checkpoint (empty for stateless samplers)."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`state_dict` returned."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            SAMPLERS.register(cls.name, cls)

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """Name and settings (the constructor's arguments), for run metadata and :meth:`from_config`."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sampler:
        """A new sampler of the kind and settings in ``config`` (what :meth:`config` returned)."""
        options = dict(config)
        return SAMPLERS[options.pop("name")](**options)


class CD(Sampler):
    """Contrastive divergence CD-k (Hinton 2002).

    The chain starts at the data: ``v0 -> h0 ~ p(h|v0) -> v1 ~ p(v|h0) -> ... -> v_k``;
    the negative statistics are ``(v_k, E[h | v_k])``.
    """

    name = "cd"

    starts_from_data = True

    def __init__(self, k: int = 1) -> None:
        self.k = check_positive_int(k, "k")

    def negative_phase(self, model: EnergyModel, v_data, h_data, generator=None) -> NegativePhase:
        h = h_data
        for step in range(self.k):
            v = model.sample_v(h, generator)
            if step < self.k - 1:
                h = model.sample_h(v, generator)
        return NegativePhase(v, model.prob_h(v))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k}

    def __repr__(self) -> str:
        return f"CD(k={self.k})"


class PersistentSampler(Sampler):
    """A sampler whose chains persist across updates (and go into checkpoints)."""

    chains: Tensor | None = None

    def _current_chains(self, model: EnergyModel, count: int, generator) -> Tensor:
        """The persistent chains, or ``count`` new ones from the visible biases alone,
        ``v ~ p(v | h = 0)``, when there are none yet for this model."""
        v = self.chains
        if v is None or v.shape != (count, model.n_visible):
            return model.sample_from_visible_biases(count, generator)
        return v.to(device=model.device, dtype=model.dtype)  # e.g. chains restored from a checkpoint

    def reset(self) -> None:
        self.chains = None

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self.chains is None else {"chains": self.chains}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.chains = state.get("chains")


class PCD(PersistentSampler):
    """Persistent contrastive divergence (Tieleman 2008).

    ``n_chains`` fantasy particles persist across updates; each update advances
    them by ``k`` Gibbs steps.

    With ``keep_hidden``, each chain also keeps the hidden state it drew at the end of the
    previous update, ``h ~ p(h | v~; theta_old)``, and an update starts from it (scikit-learn's
    ``BernoulliRBM``, whose ``h_samples_`` are these states):

        v~ ~ p(v | h; theta),  ...,  E[h | v~] and h ~ p(h | v~; theta)   (kept for the next update),

    so the hidden input of the chains is computed once per update instead of twice (one product of the
    chains with the weights fewer).  Without it an update starts from the visible states,
    ``h ~ p(h | v~; theta)``, ``v~ ~ p(v | h; theta)``, then ``E[h | v~]``.  New chains start as
    ``v~ ~ p(v | h = 0)`` either way (scikit-learn's chains start at ``h = 0``).
    """

    name = "pcd"

    #: The chains' hidden states kept between updates (``keep_hidden``); ``None`` before the first.
    hidden: Tensor | None = None
    #: Class defaults, so that samplers pickled before ``keep_hidden`` existed carry on as they were.
    keep_hidden: bool = False

    def __init__(self, n_chains: int = 100, k: int = 1, keep_hidden: bool = False) -> None:
        self.n_chains = check_positive_int(n_chains, "n_chains")
        self.k = check_positive_int(k, "k")
        if not isinstance(keep_hidden, bool):
            raise TypeError(f"keep_hidden must be True or False; found {keep_hidden!r}")
        self.keep_hidden = keep_hidden

    def negative_phase(self, model: EnergyModel, v_data, h_data, generator=None) -> NegativePhase:
        if self.keep_hidden:
            h = self.current_hidden(model)
            v = model.sample_from_visible_biases(self.n_chains, generator) if h is None \
                else model.sample_v(h, generator)
            for _ in range(self.k - 1):
                v = model.sample_v(model.sample_h(v, generator), generator)
            mean, self.hidden = model.hidden_step(v, generator)
            self.chains = v
            return NegativePhase(v, mean)
        v = self._current_chains(model, self.n_chains, generator)
        for _ in range(self.k):
            v = model.sample_v(model.sample_h(v, generator), generator)
        self.chains = v
        return NegativePhase(v, model.prob_h(v))

    def current_hidden(self, model: EnergyModel) -> Tensor | None:
        """The kept hidden states on ``model``'s device and dtype, or ``None`` where the chains start afresh
        (no update yet, or chains of another model or number)."""
        h, v = self.hidden, self.chains
        if h is None or v is None or v.shape != (self.n_chains, model.n_visible) or h.shape[0] != self.n_chains:
            return None
        return h.to(device=model.device, dtype=model.dtype)

    def reset(self) -> None:
        super().reset()
        self.hidden = None

    def state_dict(self) -> dict[str, Tensor]:
        return {**super().state_dict(), **({} if self.hidden is None else {"hidden": self.hidden})}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        super().load_state_dict(state)
        self.hidden = state.get("hidden")

    def config(self) -> dict[str, Any]:  # keep_hidden only when set: older runs' settings stay the same
        return {"name": self.name, "n_chains": self.n_chains, "k": self.k,
                **({"keep_hidden": True} if self.keep_hidden else {})}

    def __repr__(self) -> str:
        kept = ", keep_hidden=True" if self.keep_hidden else ""
        return f"PCD(n_chains={self.n_chains}, k={self.k}{kept})"


class PT(PersistentSampler):
    """Parallel tempering (Desjardins et al. 2010; Fischer & Igel's tutorial, section 5.3).

    ``n_chains`` persistent chains run at each of ``n_temps`` inverse temperatures
    ``1 = beta_0 > ... > beta_{T-1} >= 0`` (default: evenly spaced down to 0) of the
    tempered model ``f_beta(v)`` (:class:`~torchrbm.tempering.TemperedPath`, uniform
    base).  Each update runs ``k`` Gibbs steps at every temperature, then proposes to
    swap the states of neighbouring temperatures (even pairs and odd pairs in turn),
    accepting with probability

        min(1, f_i(v_j) f_j(v_i) / (f_i(v_i) f_j(v_j))).

    The ``beta = 1`` chains give the negative phase.  ``swap_rates`` holds the
    acceptance rate of each neighbouring pair since the last :meth:`reset`.  A ladder
    that starts at another ``beta_0`` (``betas=``) serves :func:`torchrbm.generate`,
    which samples at ``beta_0``, not training.
    """

    name = "pt"

    def __init__(self, n_temps: int = 10, n_chains: int = 100, k: int = 1, betas=None) -> None:
        self.n_chains = check_positive_int(n_chains, "n_chains")
        self.k = check_positive_int(k, "k")
        if betas is None:
            self.n_temps = check_positive_int(n_temps, "n_temps", minimum=2)
            betas = torch.linspace(1.0, 0.0, self.n_temps, dtype=torch.float64)
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() < 2 or not bool((betas[1:] < betas[:-1]).all()) or betas[-1] < 0:
            raise ValueError(f"PT betas must decrease strictly from the first, staying >= 0; found {betas.tolist()}")
        self.betas = betas
        self.n_temps = betas.numel()
        self._chain_betas: tuple[tuple, Tensor] | None = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._parity = 0
        self._accepted = torch.zeros(self.n_temps - 1, dtype=torch.float64)
        self._proposed = torch.zeros(self.n_temps - 1, dtype=torch.float64)

    def state_dict(self) -> dict[str, Tensor]:
        return {**super().state_dict(), "parity": torch.tensor(self._parity),
                "accepted": self._accepted.cpu(), "proposed": self._proposed}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        super().load_state_dict(state)
        if "parity" in state:
            self._parity = int(state["parity"])
            self._accepted, self._proposed = state["accepted"].clone(), state["proposed"].clone()

    @property
    def swap_rates(self) -> Tensor:
        """Acceptance rate of swaps between temperatures ``t`` and ``t + 1``."""
        return self._accepted.cpu() / self._proposed.clamp(min=1)

    def negative_phase(self, model: EnergyModel, v_data, h_data, generator=None) -> NegativePhase:
        if self.betas[0] != 1.0:
            raise ValueError(f"PT's negative phase is its chains at beta = 1: for training its betas must start at "
                             f"1, not {self.betas[0].item():g} (a ladder from another beta is for tr.generate)")
        top = self.sweep(model, generator)[: self.n_chains]
        return NegativePhase(top, model.prob_h(top))

    def sweep(self, model: EnergyModel, generator: torch.Generator | None = None) -> Tensor:
        """Advance every chain by one update (``k`` Gibbs steps at its temperature, then the swaps) and
        return them all, ``n_chains`` rows per temperature from ``betas[0]`` down."""
        path = TemperedPath(model)
        beta = self._betas_of_chains(model.device, model.dtype)
        v = self._current_chains(model, self.n_temps * self.n_chains, generator)
        for _ in range(self.k):
            v = path.gibbs(v, beta, generator)
        self.chains = self._swap(path, v, beta, generator)
        return self.chains

    def _betas_of_chains(self, device: torch.device, dtype: torch.dtype) -> Tensor:
        """Each chain's inverse temperature as a column, kept on the model's device (copying it there
        at every step would make the host wait for a GPU) until ``betas`` or ``n_chains`` change."""
        key = (device, dtype, self.n_chains, self.betas.data_ptr(), self.betas._version)
        if self._chain_betas is None or self._chain_betas[0] != key:
            column = self.betas.to(device=device, dtype=dtype).repeat_interleave(self.n_chains)[:, None]
            self._chain_betas = (key, column)
        return self._chain_betas[1]

    def _swap(self, path: TemperedPath, v: Tensor, beta: Tensor, generator) -> Tensor:
        n_temps, n_chains = self.n_temps, self.n_chains
        parity, self._parity = self._parity, self._parity ^ 1
        first = torch.arange(parity, n_temps - 1, 2)
        if first.numel() == 0:
            return v
        states = v.reshape(n_temps, n_chains, -1)
        betas = beta.reshape(n_temps, n_chains)
        pre = path.model.hidden_preactivation(states)
        left = torch.arange(parity, n_temps - 1, 2, device=v.device)  # made there: no host-to-GPU copy
        right = left + 1

        def log_f(t_state, t_beta):
            flat = states[t_state].reshape(-1, states.shape[-1])
            return path.log_f(flat, betas[t_beta].reshape(-1, 1), pre[t_state].reshape(flat.shape[0], -1)).reshape(
                -1, n_chains
            )

        log_accept = log_f(right, left) + log_f(left, right) - log_f(left, left) - log_f(right, right)
        uniform = torch.rand(log_accept.shape, generator=generator, device=v.device, dtype=torch.float64)
        accept = torch.log(uniform) < log_accept  # (pairs, n_chains)
        new = states.clone()
        mask = accept[..., None]
        new[left] = torch.where(mask, states[right], states[left])
        new[right] = torch.where(mask, states[left], states[right])
        if self._accepted.device != v.device:  # counted where the chains live: no device sync per step
            self._accepted = self._accepted.to(v.device)
        self._accepted[left] += accept.double().sum(1)
        self._proposed[first] += n_chains
        return new.reshape(n_temps * n_chains, -1)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "n_temps": self.n_temps, "n_chains": self.n_chains, "k": self.k,
                "betas": self.betas.tolist()}

    def __repr__(self) -> str:
        return f"PT(n_temps={self.n_temps}, n_chains={self.n_chains}, k={self.k})"


class Exact(Sampler):
    """The exact model distribution, by enumerating the smaller layer (small models only).

    Enumerating visible states ``v`` gives weights ``p(v) = exp(-F(v)) / Z`` and
    statistics ``(v, E[h|v])``; enumerating hidden states ``h`` gives weights
    ``p(h)`` and statistics ``(E[v|h], h)``, which is exact because the
    sufficient statistics are linear in ``v``.  With this sampler ``fit`` follows
    the true log-likelihood gradient.
    """

    name = "exact"

    #: Largest layer enumerated at every step: 20 binary units (2**20 states, or as many of other units).
    max_units = 20

    def negative_phase(self, model: EnergyModel, v_data, h_data, generator=None) -> NegativePhase:
        layer, size = enumerated_layer(model)
        units = model.hidden if layer == "hidden" else model.visible
        if units.n_states(size) > 2**self.max_units:
            raise ValueError(f"the Exact sampler enumerates at most {self.max_units} units (2**{self.max_units} "
                             f"states); found {size} with {units.n_states(size):.3g} states")
        if layer == "hidden" and not model.visible.dense:
            raise ValueError(f"the Exact sampler would enumerate the hidden layer here, whose statistics of "
                             f"{model.visible.name} units are probabilities, not states: use PCD or PT, or fewer "
                             "positions or states")
        if layer == "hidden" and any(p.requires_grad for p in model.visible.parameters()):
            raise ValueError(
                "the Exact sampler enumerates the hidden layer here, which gives exact statistics only for "
                "parameters that enter the energy linearly in s(v); the visible units' own learned "
                f"parameters ({model.visible.name}) need samples of v: use PCD or PT"
            )
        states = torch.cat(list(iter_states(model, layer)))
        sample_weight = torch.softmax(-layer_free_energy(model, layer)(states), 0)
        if layer == "visible":
            return NegativePhase(states, model.prob_h(states), sample_weight)
        return NegativePhase(model.prob_v(states), states, sample_weight)

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "Exact()"


def get_sampler(spec: str | Sampler, **options: Any) -> Sampler:
    """A sampler from its name (``"cd"``, ``"pcd"``, ``"pt"``, ``"exact"``, or a user sampler's) or pass an
    instance through; of ``options`` (``k=``, ``n_chains=``, ``n_temps=``, ...) each sampler takes the
    ones its constructor has."""
    if isinstance(spec, Sampler):
        return spec
    cls = SAMPLERS[str(spec).lower()]
    accepted = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in options.items() if key in accepted})
