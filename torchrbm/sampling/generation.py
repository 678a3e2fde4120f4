"""Generating new samples from a trained model: Gibbs chains or parallel tempering, at a chosen temperature.

At inverse temperature ``beta`` the chains sample the tempered model of AIS and parallel tempering
(:class:`~torchrbm.sampling.tempering.TemperedPath`, uniform base):

    f_beta(v) = exp(beta a.v) * integral exp(beta h.I(v) - U(h)) dh,    I(v) = b + v^T W,

the couplings and the visible and hidden biases scaled by ``beta`` and the hidden units' own potential
``U`` (a dReLU's ``gamma`` and ``theta``, a Gaussian's ``h^2 / 2``) kept as it is.  For Bernoulli hidden
units this is ``sum_h exp(-beta E(v, h))``, the Boltzmann distribution at temperature ``1 / beta``.
``beta > 1`` sharpens the distribution towards its modes (the most probable sequences), ``beta < 1``
flattens it; ``beta = 1`` is the model itself.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils.progress import Progress
from .._utils.validation import check_positive_int
from ..models.protocol import EnergyModel
from .samplers import PT
from .tempering import TemperedPath


def _check_beta(beta) -> float:
    beta = float(beta)
    if not beta > 0 or beta == float("inf"):
        raise ValueError(f"beta must be a positive, finite inverse temperature; found {beta}")
    return beta


@torch.no_grad()
def generate(model: EnergyModel, n: int = 100, steps: int = 1000, *, beta: float = 1.0,
             sampler: str | PT = "gibbs", n_temps: int = 20, start: Tensor | None = None,
             generator: torch.Generator | None = None, progress: bool = False) -> Tensor:
    """``n`` samples of ``v`` from ``f_beta`` (see the module docstring) after ``steps`` updates.

    ``sampler="gibbs"``: ``n`` independent block-Gibbs chains, started from ``start`` or from the visible
    biases alone (``v ~ p(v | h = 0)``), each step ``h ~ p(h | beta I(v))``, ``v ~ p(v | beta (a + W h))``.
    ``sampler="pt"``: parallel tempering with ``n`` chains at each of ``n_temps`` inverse temperatures
    evenly spaced from ``beta`` down to 0 (or a :class:`~torchrbm.PT` of your own whose ``betas`` start
    at ``beta``, whose swap rates can be read afterwards); each update is one Gibbs step at every
    temperature and a round of swaps, and the chains at ``beta`` are returned.  Parallel tempering
    crosses between modes that single Gibbs chains leave only rarely.
    Returns an ``(n, n_visible)`` tensor on the model's device (integer codes for Potts units).
    """
    n, steps, beta = check_positive_int(n, "n"), check_positive_int(steps, "steps", minimum=0), _check_beta(beta)
    tempering = _tempering(sampler, n, n_temps, beta)
    if tempering is not None:
        if start is not None:
            tempering.chains = model.check_data(start, "start").repeat(tempering.n_temps, 1)
        for _ in Progress(range(steps), desc="parallel tempering", unit="step", enabled=progress):
            tempering.sweep(model, generator)
        return (model.sample_from_visible_biases(n, generator) if tempering.chains is None else tempering.chains[:n])
    v = model.sample_from_visible_biases(n, generator) if start is None else model.check_data(start, "start")
    v = v.to(device=model.device, dtype=model.dtype)
    if beta == 1.0:
        return model.gibbs(v, steps, generator, progress=progress)
    path = TemperedPath(model)
    for _ in Progress(range(steps), desc="Gibbs sampling", unit="step", enabled=progress):
        v = path.gibbs(v, beta, generator)
    return v


def _tempering(sampler: str | PT, n: int, n_temps: int, beta: float) -> PT | None:
    """The parallel-tempering sampler ``sampler`` asks for (``None`` for plain Gibbs chains)."""
    if isinstance(sampler, PT):
        if sampler.n_chains != n or sampler.betas[0].item() != beta:
            raise ValueError(f"the PT sampler runs {sampler.n_chains} chains per temperature from beta = "
                             f"{sampler.betas[0].item():g}; generate was asked for n = {n} at beta = {beta:g}")
        return sampler
    if sampler == "gibbs":
        return None
    if sampler == "pt":
        ladder = torch.linspace(1.0, 0.0, check_positive_int(n_temps, "n_temps", minimum=2), dtype=torch.float64)
        return PT(n_chains=n, betas=beta * ladder)
    raise ValueError(f"sampler must be 'gibbs', 'pt' or a PT instance; found {sampler!r}")
