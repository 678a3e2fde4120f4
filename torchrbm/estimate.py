"""Estimators: pure functions of a model and data.

* ``exact_log_partition``: ``log Z`` by enumeration of the smaller layer.
* ``log_likelihood``: mean ``log p(v) = -F(v) - log Z`` per example, in nats.
* ``reconstruction_error``: mean squared error of a mean-field reconstruction.
* ``free_energy_gap``: ``mean F(held-out) - mean F(training)`` (Hinton 2010).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import enumeration
from .validation import as_data_tensor

_CHUNK_ROWS = 8192


def _model_input(model, data, name: str) -> Tensor:
    return as_data_tensor(data, name=name, n_features=model.n_visible, units=model.visible)


def _chunks(model, data: Tensor, dtype: torch.dtype | None = None):
    for start in range(0, data.shape[0], _CHUNK_ROWS):
        yield data[start : start + _CHUNK_ROWS].to(device=model.device, dtype=dtype or model.dtype)


@torch.no_grad()
def mean_free_energy(model, data, *, name: str = "data") -> float:
    """Mean free energy ``<F(v)>`` over the rows of ``data``, accumulated in float64."""
    data = _model_input(model, data, name)
    total = sum(model.free_energy(chunk).double().sum() for chunk in _chunks(model, data))
    return float(total) / data.shape[0]


def exact_log_partition(model, *, chunk_size: int = 2**16) -> float:
    """``log Z = logsumexp_x(-F(x))`` over all states ``x`` of the smaller layer.

    The larger layer is summed out analytically (its free energy); the smaller
    one, of at most 25 units, is enumerated in chunks of ``chunk_size`` states,
    in float64.  Larger models raise ``ValueError``: use AIS for them.
    """
    return enumeration.log_partition(model, chunk_size=chunk_size)


def log_likelihood(model, data, method: str = "exact", **options) -> float:
    """Mean log-likelihood ``<log p(v)> = -<F(v)> - log Z`` in nats per example.

    ``method="exact"`` computes ``log Z`` by enumeration (small models only);
    ``options`` are passed to the ``log Z`` routine.
    """
    methods = {"exact": exact_log_partition}
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(methods)}")
    log_z = methods[method](model, **options)
    return -mean_free_energy(model, data) - log_z


@torch.no_grad()
def reconstruction_error(model, data) -> float:
    """Mean squared error per unit of the mean-field reconstruction.

    ``mean_{n,i} (v_ni - E[v_i | h = E[h | v_n]])^2``; deterministic.
    """
    data = _model_input(model, data, "data")
    total = 0.0
    for v in _chunks(model, data):
        total += float((model.prob_v(model.prob_h(v)) - v).square().double().sum())
    return total / data.numel()


def free_energy_gap(model, train, held_out) -> float:
    """``<F(v)>_held-out - <F(v)>_train``; a growing gap signals over-fitting."""
    return mean_free_energy(model, held_out, name="held_out") - mean_free_energy(
        model, train, name="train"
    )
