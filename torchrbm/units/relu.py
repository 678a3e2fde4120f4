"""Rectified Gaussian units."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Units


class ReLU(Units):
    """Rectified Gaussian units ``x >= 0`` with unit variance: the exact energy-based
    counterpart of Nair & Hinton's (2010) noisy rectified linear units.

    ``E_self(x; c) = sum_i x_i^2 / 2 - c^T x`` on ``x >= 0``, so ``p(x_i | u)`` is ``N(u_i, 1)``
    truncated to ``[0, inf)``:

        E[x | u] = u + phi(u) / Phi(u),   log_partition(u) = sum_i u_i^2 / 2 + log Phi(u_i) + log(2 pi) / 2.

    Sampling inverts the truncated normal's CDF in log space, ``x = u - Phi^-1(U Phi(u))``,
    falling back to its exponential limit ``-log(U) / |u|`` where ``Phi(u)`` underflows.
    Unlike Nair & Hinton's ``max(0, u + N(0, sigmoid(u)))`` this leaves the model exactly
    invariant, so AIS and exact likelihoods stay valid.
    """

    name = "relu"

    def mean(self, pre: Tensor) -> Tensor:
        # phi(u) / Phi(u) = exp(log phi(u) - log Phi(u)), stable in the far negative tail.
        log_phi = -0.5 * pre.square() - 0.5 * math.log(2 * math.pi)
        return pre + torch.exp(log_phi - torch.special.log_ndtr(pre))

    def sample(self, pre: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = pre.detach().double()
        uniform = torch.rand(u.shape, generator=generator, device=u.device, dtype=torch.float64)
        log_tail = torch.log(uniform) + torch.special.log_ndtr(u)
        exact = u - torch.special.ndtri(log_tail.exp())
        limit = -torch.log(uniform) / u.abs().clamp(min=1.0)
        x = torch.where(log_tail > -700.0, exact, limit).clamp_(min=0.0)
        return x.to(pre.dtype)

    def log_partition(self, pre: Tensor) -> Tensor:
        return (0.5 * pre.square() + torch.special.log_ndtr(pre) + 0.5 * math.log(2 * math.pi)).sum(-1)

    def bias_for_mean(self, mean: Tensor) -> Tensor:
        """The ``u`` with ``E[x | u] = mean``, by Newton's method on the increasing map."""
        target = mean.clamp(min=1e-3).double()
        u = target - 1.0 / target.clamp(min=1e-3).sqrt()
        for _ in range(50):
            value = self.mean(u)
            slope = (1 - (value - u) * value).clamp(min=1e-6)  # d mean / d u = Var[x | u]
            u = u - (value - target) / slope
        return u.to(mean.dtype)

    def self_energy(self, x: Tensor, bias: Tensor) -> Tensor:
        return (0.5 * x.square() - x * bias).sum(-1)

    def check_values(self, x: Tensor, name: str) -> None:
        if x.numel() and bool((x < 0).any()):
            raise ValueError(f"{name} must be non-negative for ReLU units; found {float(x.min()):g}")
