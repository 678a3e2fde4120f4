"""Estimators: pure functions of a model and data.

* ``exact_log_partition``: ``log Z`` by enumeration of the smaller layer.
* ``log_likelihood``: mean ``log p(v) = -F(v) - log Z`` per example, in nats.
* ``reconstruction_error``: mean squared error of a mean-field reconstruction.
* ``free_energy_gap``: ``mean F(held-out) - mean F(training)`` (Hinton 2010).
* ``pseudo_log_likelihood``: ``sum_i log p(v_i | v_-i)``, exactly or from one random bit.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .._utils.progress import Progress
from .._utils.rng import resolve_generator
from .._utils.validation import as_sample_weight, trusted_inputs
from ..models.protocol import EnergyModel
from ..sampling import enumeration
from .ais import ais, reverse_ais

_CHUNK_ROWS = 8192


def _chunks(model: EnergyModel, data: Tensor, dtype: torch.dtype | None = None, rows: int = _CHUNK_ROWS):
    for start in range(0, data.shape[0], rows):
        yield data[start : start + rows].to(device=model.device, dtype=dtype or model.dtype)


@torch.no_grad()
@trusted_inputs()
def free_energies(model: EnergyModel, data, *, name: str = "data") -> Tensor:
    """``F(v_n)`` of each row of ``data``, in float64 on the model's device."""
    data = model.check_data(data, name)
    return torch.cat([model.free_energy(chunk).double() for chunk in _chunks(model, data)])


def weighted_mean(values: Tensor, weights: Tensor | None = None) -> float:
    """``mean(values)``, or with ``weights`` ``sum_n w_n x_n / sum_n w_n``."""
    return float(values.mean()) if weights is None else float(weights @ values / weights.sum())


def mean_free_energy(model: EnergyModel, data, *, name: str = "data", sample_weight=None) -> float:
    """Mean free energy ``<F(v)>`` over the rows of ``data``, accumulated in float64; with ``sample_weight``
    (one weight ``w_n >= 0`` per row) the weighted mean ``sum_n w_n F(v_n) / sum_n w_n``."""
    free = free_energies(model, data, name=name)
    weights = None if sample_weight is None else as_sample_weight(sample_weight, free.shape[0]).to(free.device)
    return weighted_mean(free, weights)


@trusted_inputs()
def exact_log_partition(model: EnergyModel, *, chunk_size: int = 2**16) -> float:
    """``log Z = logsumexp_x(-F(x))`` over all states ``x`` of the smaller layer.

    The larger layer is summed out analytically (its free energy); the smaller
    one, of at most 25 units, is enumerated in chunks of ``chunk_size`` states,
    in float64.  Larger models raise ``ValueError``: use AIS for them.
    """
    return enumeration.log_partition(model, chunk_size=chunk_size)


def log_likelihood(model: EnergyModel, data, method: str = "exact", *, sample_weight=None, **options) -> float:
    """Mean log-likelihood ``<log p(v)> = -<F(v)> - log Z`` in nats per example (with ``sample_weight``,
    the weighted mean ``sum_n w_n log p(v_n) / sum_n w_n``).

    ``method`` chooses how ``log Z`` is found:

    * ``"exact"``: enumeration of the smaller layer (at most 25 units);
    * ``"ais"``: forward annealed importance sampling (optimistic in expectation);
    * ``"rais"``: reverse AIS started from ``data`` (conservative in expectation).

    ``options`` go to :func:`exact_log_partition`, :func:`torchrbm.ais.ais` or
    :func:`torchrbm.ais.reverse_ais`; for ``"ais"`` the base model is fitted to
    ``base_data`` (default: ``data``).  For the uncertainty of a sampled
    estimate call those functions directly.
    """
    if method == "exact":
        return exact_log_likelihood(model, data, sample_weight=sample_weight, **options)
    if method == "ais":
        base_data = options.pop("base_data", data)
        log_z = ais(model, data=base_data, **options).log_z
    elif method == "rais":
        log_z = reverse_ais(model, options.pop("base_data", data), **options).log_z
    else:
        raise ValueError(f"unknown method {method!r}; available: exact, ais, rais")
    value = -mean_free_energy(model, data, sample_weight=sample_weight) - log_z
    problem = impossible_log_likelihood(model, value)
    if problem:
        warnings.warn(f"{method}: {problem}", stacklevel=2)
    return value


def impossible_log_likelihood(model: EnergyModel, value: float) -> str | None:
    """Why a sampled estimate ``value`` of a mean log-likelihood cannot be right (``None`` if it can):
    a probability of discrete data is at most 1, so its log is at most 0.  Such estimates are reported
    as they are, with this warning, not clamped."""
    if not model.visible.discrete or value <= 0:
        return None
    return (f"the estimated log-likelihood {value:.4g} is above 0, which no discrete data can have: the estimate "
            "of log Z is too low (use more chains or temperatures, and compare forward with reverse AIS)")


def exact_log_likelihood(model: EnergyModel, data, *, log_z: float | None = None, chunk_size: int = 2**16,
                         sample_weight=None) -> float:
    """``-<F(v)> - log Z`` with both terms in float64 and ``log Z`` by enumeration (or ``log_z``, if known).

    For discrete visible units every ``log p(v) <= 0``: a mean above 0 by no more than float64
    rounding (``1e-9`` relative to ``log Z``) is returned as 0; one above that means that the model's
    free energy and its partition function disagree, and raises ``RuntimeError``.
    """
    mean_free = mean_free_energy(enumeration.as_float64(model), data, sample_weight=sample_weight)  # checks data first
    if log_z is None:
        log_z = exact_log_partition(model, chunk_size=chunk_size)
    return at_most_zero(model, -mean_free - log_z, log_z)


def at_most_zero(model: EnergyModel, value: float, log_z: float) -> float:
    """An exact mean log-likelihood ``value``, checked: for discrete visible units 0 if it lies above 0
    by float64 rounding only; ``RuntimeError`` if by more (the free energy and ``log Z`` disagree)."""
    if model.visible.discrete and value > 0:
        if value > 1e-9 * max(1.0, abs(log_z)):
            raise RuntimeError(f"exact log-likelihood {value:.6g} > 0 for discrete data: the model's free energy "
                               "disagrees with its partition function (please report this as a bug)")
        return 0.0
    return value


@torch.no_grad()
@trusted_inputs()
def reconstruction_error(model: EnergyModel, data, *, sample_weight=None) -> float:
    """Mean squared error per unit of the mean-field reconstruction.

    ``mean_{n,i} (v_ni - E[v_i | h = E[h | v_n]])^2``; deterministic.  For units with more than
    one number per unit (Potts: one-hot states against ``q`` probabilities) the squares of a unit
    are summed (:meth:`~torchrbm.units.Units.squared_error`).  With ``sample_weight`` the mean over
    rows is weighted, ``sum_n w_n e_n / sum_n w_n``.
    """
    data = model.check_data(data, "data")
    per_row = torch.cat([model.visible.squared_error(v, model.prob_v(model.prob_h(v))).double().reshape(
        v.shape[0], -1).sum(1) for v in _chunks(model, data)])
    weights = None if sample_weight is None else as_sample_weight(sample_weight, data.shape[0]).to(per_row.device)
    return weighted_mean(per_row, weights) / data[0].numel()


def free_energy_gap(model: EnergyModel, train, held_out) -> float:
    """``<F(v)>_held-out - <F(v)>_train``; a growing gap signals over-fitting."""
    return mean_free_energy(model, held_out, name="held_out") - mean_free_energy(
        model, train, name="train"
    )


@torch.no_grad()
def pseudo_log_likelihood(model: EnergyModel, data, method: str = "full", *, seed: int | None = None,
                          generator: torch.Generator | None = None, progress: bool = False) -> float:
    """Mean pseudo-log-likelihood of binary (or spin) data, in nats per example.

    ``sum_i log p(v_i | v_-i) = sum_i log sigmoid(F(v with unit i flipped) - F(v))``, for visible
    units with two states (:attr:`~torchrbm.units.Units.two_states`: ``1 - v`` or ``-v``).

    * ``"full"``: every bit of every example; exact and deterministic
      (``n_visible`` free energies per example).
    * ``"stochastic"``: one random bit ``i`` per example, scaled by ``n_visible``
      (``n_visible * log sigmoid(F(flip_i v) - F(v))``), the unbiased one-sample
      estimate scikit-learn's ``BernoulliRBM.score_samples`` returns.

    ``progress`` reports the examples done on stderr (:mod:`torchrbm.progress`): the
    full method takes minutes on MNIST-sized data.
    """
    per_example = pseudo_log_likelihood_per_example(model, data, method, seed=seed, generator=generator,
                                                    progress=progress)
    return float(per_example.sum()) / per_example.shape[0]


@torch.no_grad()
@trusted_inputs()
def pseudo_log_likelihood_per_example(model: EnergyModel, data, method: str = "full", *, seed: int | None = None,
                                      generator: torch.Generator | None = None, binary_only: bool = True,
                                      progress: bool = False) -> Tensor:
    """The pseudo-log-likelihood of each example (float64, shape ``(n_examples,)``);
    see :func:`pseudo_log_likelihood` for the two methods and ``progress``.

    ``binary_only=False`` also scores values strictly between 0 and 1 with the
    same formula (the flipped value being ``1 - v``), as scikit-learn does.
    """
    states = model.visible.unit_states()
    if not model.visible.two_states and states is None:
        raise ValueError(f"the pseudo-log-likelihood changes one unit at a time: it needs visible units with a few "
                         f"states each (Bernoulli, spin, Potts), not {model.visible.name}")
    if method not in ("full", "stochastic"):
        raise ValueError(f"unknown pseudo-likelihood method {method!r}; use 'full' or 'stochastic'")
    data = model.check_data(data, "data")
    if binary_only and not model.visible.holds_states(data):
        raise ValueError("the pseudo-log-likelihood needs binary (0/1) data")
    if model.visible.two_states:
        score = _flipped_full if method == "full" else _flipped_stochastic
    else:
        score = _categorical_full if method == "full" else _categorical_stochastic
    generator = None if method == "full" else resolve_generator(model.device, seed, generator)
    parts = []
    with Progress(total=data.shape[0], desc=f"pseudo-likelihood ({method})", unit="example",
                  enabled=progress) as bar:
        for v in _chunks(model, data, rows=_pll_rows(model, method)):
            parts.append(score(model, v, generator))
            bar.update(v.shape[0])
    return torch.cat(parts)


def _pll_rows(model: EnergyModel, method: str) -> int:
    """Rows per chunk: the full method scores ``n_visible`` (times the states per unit) variants of each row."""
    if method != "full":
        return _CHUNK_ROWS
    per_unit = 1 if model.visible.two_states else model.visible.unit_states().numel()  # flipped, or each state
    return max(1, (1 << 21) // (model.n_visible * per_unit * model.n_visible))


def _flipped_full(model: EnergyModel, v: Tensor, generator) -> Tensor:
    """``sum_i log sigmoid(F(v with unit i flipped) - F(v))`` per row."""
    eye = torch.eye(model.n_visible, device=v.device, dtype=torch.bool)
    flipped = torch.where(eye, model.visible.flip(v)[:, None, :], v[:, None, :])  # (rows, d, d)
    delta = model.free_energy(flipped) - model.free_energy(v)[:, None]
    return torch.nn.functional.logsigmoid(delta).double().sum(1)


def _flipped_stochastic(model: EnergyModel, v: Tensor, generator) -> Tensor:
    """``n_visible log sigmoid(F(v with unit i flipped) - F(v))`` for one random ``i`` per row."""
    index = torch.randint(model.n_visible, (v.shape[0],), generator=generator, device=v.device)
    flipped = v.clone()
    flipped.scatter_(1, index[:, None], model.visible.flip(flipped.gather(1, index[:, None])))
    delta = model.free_energy(flipped) - model.free_energy(v)
    return model.n_visible * torch.nn.functional.logsigmoid(delta).double()


def _categorical_full(model: EnergyModel, v: Tensor, generator) -> Tensor:
    """``sum_i [-F(v) - logsumexp_s -F(v with v_i = s)]`` per row, ``s`` over the units' states."""
    states = model.visible.unit_states().to(device=v.device, dtype=v.dtype)
    rows, d, k = v.shape[0], model.n_visible, states.numel()
    variants = v[:, None, None, :].expand(rows, d, k, d).clone()  # variant (i, s): v with v_i = s
    position = torch.arange(d, device=v.device)
    variants[:, position, :, position] = states.expand(rows, d, k).transpose(0, 1)
    log_norm = torch.logsumexp(-model.free_energy(variants).double(), -1)  # (rows, d)
    return (-model.free_energy(v).double()[:, None] - log_norm).sum(1)


def _categorical_stochastic(model: EnergyModel, v: Tensor, generator) -> Tensor:
    """``n_visible [-F(v) - logsumexp_s -F(v with v_i = s)]`` for one random ``i`` per row."""
    states = model.visible.unit_states().to(device=v.device, dtype=v.dtype)
    index = torch.randint(model.n_visible, (v.shape[0],), generator=generator, device=v.device)
    variants = v[:, None, :].repeat(1, states.numel(), 1)  # (rows, k, d)
    variants.scatter_(2, index[:, None, None].expand(-1, states.numel(), 1), states[None, :, None].expand(
        v.shape[0], -1, 1))
    log_norm = torch.logsumexp(-model.free_energy(variants).double(), -1)
    return model.n_visible * (-model.free_energy(v).double() - log_norm)
