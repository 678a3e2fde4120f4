"""Real-valued units with learnable variance."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .base import Units


class Gaussian(Units):
    """Real-valued units with per-unit variance ``sigma_i^2`` (Cho, Raiko & Ilin 2011).

    ``E_self(x; c) = sum_i (x_i - c_i)^2 / (2 sigma_i^2)`` (up to a constant in ``x``) with
    statistic ``s(x) = x / sigma^2``, so the RBM energy is

        E(v, h) = sum_i (v_i - a_i)^2 / (2 sigma_i^2) - b^T h - sum_ij (v_i / sigma_i^2) W_ij h_j,

    ``p(v | h) = N(a + W h, diag(sigma^2))`` and the hidden units see ``b + (v / sigma^2)^T W``.
    The variance is kept as ``log sigma^2`` (always positive) and learned when
    ``learn_sigma``; it is clamped to ``[min_sigma^2, max_sigma^2]`` after each update.
    With ``sigma = 1`` this is the tutorial's energy for standardised data.
    """

    name = "gaussian"
    identity_statistic = False
    data_preparation = "standardize"

    def __init__(self, n_units: int | None = None, *, sigma: float = 1.0, learn_sigma: bool = False,
                 min_sigma: float = 1e-2, max_sigma: float = 1e2) -> None:
        if not 0 < min_sigma <= sigma <= max_sigma:
            raise ValueError(f"need 0 < min_sigma <= sigma <= max_sigma; found {min_sigma}, {sigma}, {max_sigma}")
        self.initial_sigma = float(sigma)
        self.learn_sigma = bool(learn_sigma)
        self.log_var_bounds = (2 * math.log(min_sigma), 2 * math.log(max_sigma))
        super().__init__(n_units)

    def bind(self, n_units: int) -> Units:
        """Also creates ``log_var``, ``log sigma^2`` per unit: a parameter if learned, else a buffer."""
        super().bind(n_units)
        if not hasattr(self, "log_var"):
            value = torch.full((n_units,), 2 * math.log(self.initial_sigma))
            if self.learn_sigma:
                self.log_var = nn.Parameter(value)
            else:
                self.register_buffer("log_var", value)
        return self

    @property
    def variance(self) -> Tensor:
        return self.log_var.exp()

    @property
    def sigma(self) -> Tensor:
        return (0.5 * self.log_var).exp()

    def statistic(self, x: Tensor) -> Tensor:
        return x * torch.exp(-self.log_var)

    def mean(self, pre: Tensor) -> Tensor:
        return pre

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(pre.shape, generator=generator, device=pre.device, dtype=pre.dtype)
        return torch.addcmul(pre, noise, self.sigma.detach())

    def log_partition(self, pre: Tensor) -> Tensor:
        """``sum_i u_i^2 / (2 sigma_i^2) + log(2 pi sigma_i^2) / 2``."""
        return (0.5 * pre.square() * torch.exp(-self.log_var) + 0.5 * (math.log(2 * math.pi) + self.log_var)).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        return mean

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        """``sum_i (x_i^2 / 2 - c_i x_i) / sigma_i^2``: the tutorial's ``(x - c)^2 / (2 sigma^2)``
        without its constant ``c^2 / (2 sigma^2)``, which cancels from every probability."""
        return ((0.5 * x - bias) * x * torch.exp(-self.log_var)).sum(-1)

    def free_energy_grads(self, x: Tensor, bias: Tensor, field, coefficients: Tensor) -> dict[str, Tensor]:
        """``dF/d log sigma_i^2 = s_i(x) ((W E[h|x])_i + c_i - x_i / 2)``, weighted and summed."""
        if not self.log_var.requires_grad:
            return {}
        terms = self.statistic(x) * (field() + bias - 0.5 * x)
        return {"log_var": coefficients @ terms}

    def constrain_(self) -> None:
        """Keep ``log sigma^2`` within its bounds (called after each update)."""
        with torch.no_grad():
            self.log_var.clamp_(*self.log_var_bounds)

    #: Inputs beyond this magnitude would overflow the squares in a float32 energy.
    MAX_ABS = 1e15

    def check_values(self, x: Tensor, name: str) -> None:
        if x.numel():
            largest = float(x.detach().abs().max())
            if largest > self.MAX_ABS:
                raise ValueError(f"{name} holds values up to {largest:.3g} in magnitude; Gaussian units square "
                                 f"their inputs, so |x| must stay below {self.MAX_ABS:g} (standardise the data: "
                                 "torchrbm.datasets.standardize)")

    def check_training_data(self, x: Tensor, name: str) -> None:
        if x.shape[0] < 2:
            return
        x = x.double()
        std = x.std(0)
        constant = (std == 0).nonzero().flatten().tolist()
        if constant:
            raise ValueError(
                f"{name} has {len(constant)} column(s) with zero variance (first: column {constant[0]}); "
                "Gaussian units cannot model them: drop them, or standardise with "
                "torchrbm.datasets.standardize(..., drop_constant=True)"
            )
        if not self.learn_sigma and (bool((x.mean(0).abs() > 0.5).any()) or bool(((std - 1).abs() > 0.5).any())):
            warnings.warn(
                f"{name} is not standardised (column means {float(x.mean(0).abs().max()):.3g} and standard "
                f"deviations {float(std.min()):.3g} to {float(std.max()):.3g}) but the Gaussian units have a fixed "
                "sigma; standardise it (torchrbm.datasets.standardize) or pass learn_sigma=True",
                stacklevel=3,
            )

    def divergence_hint(self) -> str | None:
        return ("Gaussian visible units: data that is not standardised (tr.datasets.standardize), or learned "
                "variances too small (raise min_sigma, or learn_sigma=False)")

    def config(self) -> dict[str, Any]:
        low, high = (math.exp(0.5 * b) for b in self.log_var_bounds)
        return {"name": self.name, "sigma": self.initial_sigma, "learn_sigma": self.learn_sigma,
                "min_sigma": low, "max_sigma": high}
