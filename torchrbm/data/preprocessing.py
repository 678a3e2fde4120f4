"""Preprocessing of rows: binarisation of grey levels, and standardisation for Gaussian visible units."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor

from .._utils.validation import as_data_tensor, check_finite, numeric_tensor

#: The binarisations :func:`binarize` knows (``None``: none).
BINARIZE = ("threshold", "stochastic", None)

logger = logging.getLogger(__name__)


def binarize(
    x: Tensor, method: str | None = "threshold", *, threshold: float = 0.5, seed: int = 0
) -> Tensor:
    """Binarise values in ``[0, 1]``: ``"threshold"`` (``x > threshold``), ``"stochastic"``
    (``x_i ~ Bernoulli(x_i)`` with a seeded generator) or ``None`` (unchanged).

    ``x`` is any array, tensor or nested list of finite numbers in ``[0, 1]``, or ``uint8``
    grey levels ``0..255``, which are read as ``x / 255`` (logged); other values outside
    ``[0, 1]`` raise ``ValueError``.  The result is a ``uint8`` tensor of ``x``'s shape.
    """
    if method not in (None, "none", "threshold", "stochastic"):
        raise ValueError(f"unknown binarisation {method!r}; use 'threshold', 'stochastic' or None")
    x = numeric_tensor(x, "x")
    check_finite(x, "x")
    if method is None or method == "none":
        return x
    x = _as_unit_interval(x, method)
    if method == "threshold":
        return (x > threshold).to(torch.uint8)
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(x.shape, generator=generator) < x).to(torch.uint8)


def _as_unit_interval(x: Tensor, method: str) -> Tensor:
    """``x`` if it lies in ``[0, 1]``; ``uint8`` grey levels divided by 255; else ``ValueError``."""
    if not x.numel():
        return x
    low, high = (float(value) for value in torch.aminmax(x))
    if low >= 0 and high <= 1:
        return x
    if x.dtype == torch.uint8:
        logger.info("%s binarisation: uint8 values from %g to %g read as grey levels x / 255", method, low, high)
        return x / 255.0
    raise ValueError(f"{method} binarisation reads values in [0, 1]; found values from {low:g} to {high:g}: scale "
                     "them into [0, 1] first (grey levels: x / their maximum, e.g. x / 255)")


@dataclass
class Standardizer:
    """Per-column ``z = (x - mean) / std`` over the kept (non-constant) ``columns``,
    fitted on training data and applied unchanged to held-out data (for Gaussian
    visible units).  ``mean`` and ``std`` cover every original column."""

    mean: Tensor
    std: Tensor
    columns: Tensor

    def transform(self, x) -> Tensor:
        """Standardised kept columns, on ``x``'s device."""
        x = as_data_tensor(x, n_features=self.mean.numel()).double()
        mean, std, kept = self._on(x.device)
        return ((x[:, kept] - mean[kept]) / std[kept]).float()

    def inverse_transform(self, z) -> Tensor:
        """Back to the original scale and columns, on ``z``'s device; dropped columns get their constant value."""
        z = as_data_tensor(z, n_features=self.columns.numel()).double()
        mean, std, kept = self._on(z.device)
        x = mean.expand(z.shape[0], -1).clone()
        x[:, kept] = z * std[kept] + mean[kept]
        return x.float()

    def log_abs_det_jacobian(self) -> float:
        """``log |dz/dx| = -sum_i log std_i`` over the kept columns: added to a log-density of the
        standardised ``z`` it gives the log-density of the kept columns of ``x`` in their own units."""
        return -float(self.std[self.columns].log().sum())

    def _on(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        return self.mean.to(device), self.std.to(device), self.columns.to(device)

    def to_dict(self) -> dict[str, list]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": self.columns.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, list]) -> Standardizer:
        return cls(mean=torch.tensor(state["mean"], dtype=torch.float64),
                   std=torch.tensor(state["std"], dtype=torch.float64),
                   columns=torch.tensor(state["columns"], dtype=torch.int64))


def standardize(data, *, drop_constant: bool = False) -> tuple[Tensor, Standardizer]:
    """Standardise each column of ``data`` to mean 0 and standard deviation 1.

    Columns with zero variance cannot be standardised: they raise ``ValueError``
    unless ``drop_constant``, which leaves them out (``Standardizer.columns`` lists
    the kept ones).  Returns the float32 result and the fitted :class:`Standardizer`.
    """
    x = as_data_tensor(data).double()
    std = x.std(0) if x.shape[0] > 1 else torch.zeros(x.shape[1], dtype=torch.float64)
    constant = std == 0
    if bool(constant.any()) and not drop_constant:
        columns = constant.nonzero().flatten().tolist()
        raise ValueError(f"data has {len(columns)} column(s) with zero variance (first: column {columns[0]}); "
                         "pass drop_constant=True to leave them out")
    kept = (~constant).nonzero().flatten()
    if kept.numel() == 0:
        raise ValueError("every column of the data is constant; nothing to standardise")
    scaler = Standardizer(mean=x.mean(0), std=std, columns=kept)
    return scaler.transform(x), scaler
