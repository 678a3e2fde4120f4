"""Generative checks: whether a model's samples reproduce the data's single-site frequencies and pairwise
connected correlations.

For rows of codes ``v`` (``L`` positions, ``q`` states each: Potts codes, or 0/1 for binary units) with
weights ``w_n``,

    f_i(a)     = sum_n w_n [v_ni = a] / sum_n w_n,
    f_ij(a, b) = sum_n w_n [v_ni = a] [v_nj = b] / sum_n w_n,
    C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b).

A model that has learned the family reproduces, in its samples, the ``f_i`` and the ``C_ij`` (``i < j``,
every pair of states) of held-out sequences; Pearson's ``r`` between the two sets of numbers is the
usual summary (Tubiana, Cocco & Monasson 2019; Trinquier et al. 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._utils.validation import as_sample_weight, numeric_tensor

#: Rows one-hot encoded at a time for the pair frequencies.
_BLOCK = 2048


def _codes(codes, name: str, q: int | None = None) -> Tensor:
    """``codes`` as an ``(N, L)`` int64 tensor of states ``0 .. q - 1``, checked."""
    x = numeric_tensor(codes, name)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, L) array of codes; found shape {tuple(x.shape)}")
    if bool((x != x.round()).any()) or bool((x < 0).any()):
        raise ValueError(f"{name} must hold non-negative integer codes (states 0 .. q - 1)")
    x = x.long()
    if q is not None and int(x.max()) >= q:
        raise ValueError(f"{name} holds the code {int(x.max())}, outside the {q} states 0 .. {q - 1}")
    return x


def _weights(sample_weight, n: int, device: torch.device) -> Tensor:
    if sample_weight is None:
        return torch.full((n,), 1.0 / n, dtype=torch.float64, device=device)
    weights = as_sample_weight(sample_weight, n).to(device=device, dtype=torch.float64)
    return weights / weights.sum()


def site_frequencies(codes, q: int, sample_weight=None) -> Tensor:
    """``f_i(a)``, shape ``(L, q)``, float64: the (weighted) frequency of state ``a`` at position ``i``."""
    x = _codes(codes, "codes", q)
    weights = _weights(sample_weight, x.shape[0], x.device)
    counts = torch.zeros(x.shape[1], q, dtype=torch.float64, device=x.device)
    position = torch.arange(x.shape[1], device=x.device).expand_as(x)
    return counts.index_put_((position, x), weights[:, None].expand_as(x), accumulate=True)


def connected_correlations(codes, q: int, sample_weight=None) -> Tensor:
    """``C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b)``, shape ``(L, q, L, q)``, float64.

    The pair frequencies are one product of one-hot rows, ``X^T diag(w) X``, taken ``2048`` rows at a time;
    memory is ``(L q)^2`` numbers (1.2 million for ``L = 53``, ``q = 21``)."""
    x = _codes(codes, "codes", q)
    weights = _weights(sample_weight, x.shape[0], x.device)
    length = x.shape[1]
    pairs = torch.zeros(length * q, length * q, dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], _BLOCK):
        block = torch.nn.functional.one_hot(x[start:start + _BLOCK], q).reshape(-1, length * q).double()
        pairs.addmm_(block.T, block * weights[start:start + _BLOCK, None])
    single = site_frequencies(x, q, weights).reshape(-1)
    return (pairs - torch.outer(single, single)).reshape(length, q, length, q)


def _upper_pairs(correlations: Tensor) -> Tensor:
    """The entries of ``C_ij(a, b)`` with ``i < j`` (distinct positions), flattened."""
    length = correlations.shape[0]
    i, j = torch.triu_indices(length, length, offset=1, device=correlations.device)
    return correlations.permute(0, 2, 1, 3)[i, j].reshape(-1)


def pearson_r(x: Tensor, y: Tensor) -> float:
    """Pearson's correlation coefficient of two equally long vectors (NaN if either is constant)."""
    return float(torch.corrcoef(torch.stack([x.double().flatten(), y.double().flatten()]))[0, 1])


@dataclass(frozen=True)
class StatisticsComparison:
    """The statistics of ``samples`` against those of ``reference`` rows (see the module docstring):
    ``site_frequencies`` and ``correlations`` hold (samples', reference's) flattened values, the latter
    over the ``L (L - 1) / 2 q^2`` entries with ``i < j``; ``site_r`` and ``correlation_r`` are Pearson's
    ``r`` between them."""

    site_frequencies: tuple[Tensor, Tensor]
    correlations: tuple[Tensor, Tensor]
    site_r: float
    correlation_r: float
    n_samples: int
    n_reference: int
    n_reference_effective: float

    def as_dict(self) -> dict[str, Any]:
        """The numbers, JSON-ready."""
        return {"method": "single-site frequencies and pairwise connected correlations (i < j, every pair of "
                "states) of the samples against the reference rows', Pearson r",
                "site_frequency_r": self.site_r, "connected_correlation_r": self.correlation_r,
                "n_samples": self.n_samples, "n_reference": self.n_reference,
                "n_reference_effective": self.n_reference_effective}


def compare_statistics(samples, reference, *, q: int | None = None, sample_weight=None,
                       reference_weight=None) -> StatisticsComparison:
    """Compare the single-site frequencies and pairwise connected correlations of ``samples`` (e.g. a
    model's, from :func:`torchrbm.generate`) with those of ``reference`` rows (e.g. held-out sequences,
    weighted by ``reference_weight``).  ``q`` defaults to one more than the largest code in either."""
    x, y = _codes(samples, "samples", q), _codes(reference, "reference", q)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"samples have {x.shape[1]} positions but the reference rows {y.shape[1]}")
    y = y.to(x.device)
    q = int(max(x.max(), y.max())) + 1 if q is None else q
    y_weights = _weights(reference_weight, y.shape[0], y.device)
    x_weights = _weights(sample_weight, x.shape[0], x.device)
    sites = (site_frequencies(x, q, x_weights).flatten(), site_frequencies(y, q, y_weights).flatten())
    pairs = (_upper_pairs(connected_correlations(x, q, x_weights)),
             _upper_pairs(connected_correlations(y, q, y_weights)))
    return StatisticsComparison(sites, pairs, pearson_r(*sites), pearson_r(*pairs), x.shape[0], y.shape[0],
                                float(1.0 / y_weights.square().sum()))
