"""Annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008) for log Z.

The path runs from a *base* model ``A`` of independent visible units with biases
``a_A`` (fitted to the data's marginals, or zero) to the RBM ``B``.  With the
hidden units summed out, the intermediate distributions are

    f_beta(v) = exp(-(1 - beta) E_A(v) - beta E_vis(v; a)) * exp(log_partition_h(beta (b + v^T W))),

so ``f_1`` is the RBM and ``f_0`` the base times free hidden units,
``Z_0 = exp(log_partition_v(a_A) + log_partition_h(0))``.
Each step is one Gibbs transition that leaves ``f_beta`` invariant:
``h ~ p(h | beta (b + v^T W))``, ``v ~ p(v | (1 - beta) a_A + beta (a + W h))``.

A chain through the ladder ``0 = beta_0 < beta_1 < ... < beta_K = 1`` carries the
importance weight

    log w = sum_{k=1..K} [log f_{beta_k}(v_{k-1}) - log f_{beta_{k-1}}(v_{k-1})],

``v_{k-1}`` being its state after the transition at ``beta_{k-1}``.  *Forward* AIS
starts from exact base samples and gives ``log Z = log Z_0 + log mean(w)``, an
estimate whose expectation is below the truth (Jensen), so the log-likelihood it
implies is optimistic.  *Reverse* AIS runs the same path from
1 to 0, starting from data as a stand-in for model samples (the upper half of
bidirectional Monte Carlo, Grosse et al. 2015; in the spirit of Burda et al.'s
RAISE), and gives ``log Z = log Z_0 - log mean(w)``, which is conservative
(too high in expectation) when the data are distributed like the model.  On data
that differ from the model a reverse run can err either way: use a long ladder
and ``burn_in`` steps.  Log-weights are accumulated in float64.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .._utils import threads
from .._utils.progress import Progress
from .._utils.rng import resolve_generator
from .._utils.validation import check_positive_int, trusted_inputs
from ..models.protocol import EnergyModel
from ..sampling.tempering import TemperedPath

SCHEDULES = ("linear", "piecewise", "adaptive")


@dataclass
class AISResult:
    """An estimate of ``log Z`` with its uncertainty.

    ``log_z_std`` is the standard error of ``log Z`` by the delta method,
    ``std(w) / (sqrt(n) mean(w))`` over the ``n`` chains; ``interval`` is
    ``log(Z_hat -+ 3 sigma)`` with ``sigma = std(w) Z_0 / sqrt(n)`` (Salakhutdinov & Murray
    2008), whose lower end is ``-inf`` when ``3 sigma >= Z_hat``.  ``ess`` is the effective
    sample size of the weights, ``(sum w)^2 / sum w^2`` (``n`` at best, 1 at worst).
    ``log_weights`` has shape ``(n_chains,)`` (float64); ``base_log_z`` is ``log Z_0``.
    """

    log_z: float
    log_z_std: float
    interval: tuple[float, float]
    ess: float
    log_weights: Tensor = field(repr=False)
    base_log_z: float
    n_chains: int
    n_betas: int
    direction: str
    seconds: float

    @property
    def heaviest_share(self) -> float:
        """The share of the total importance weight held by the heaviest chain (1 / n_chains at best):
        near 1, the estimate rests on one chain."""
        log_w = self.log_weights.detach().double()
        return float(torch.exp(log_w.max() - torch.logsumexp(log_w, 0)))

    @property
    def method(self) -> str:
        return "ais" if self.direction == "forward" else "rais"

    def as_dict(self) -> dict:
        """JSON-ready summary (without the weights)."""
        return {
            "method": self.method,
            "log_partition": self.log_z,
            "log_partition_std": self.log_z_std,
            "log_partition_interval_3sigma": list(self.interval),
            "effective_sample_size": self.ess,
            "heaviest_chain_weight_share": self.heaviest_share,
            "n_chains": self.n_chains,
            "n_betas": self.n_betas,
            "seconds": self.seconds,
        }


def beta_schedule(n_betas: int, kind: str = "piecewise", *, dtype=torch.float64) -> Tensor:
    """Inverse temperatures from 0 to 1 inclusive.

    ``"linear"``: evenly spaced.  ``"piecewise"``: Salakhutdinov & Murray's
    spacing, scaled to ``n_betas`` points: 500/14500 of them on [0, 0.5],
    4000/14500 on [0.5, 0.9] and 10000/14500 on [0.9, 1], denser where the
    distributions change fastest.
    """
    n_betas = check_positive_int(n_betas, "n_betas", minimum=2)
    if kind == "linear":
        return torch.linspace(0.0, 1.0, n_betas, dtype=dtype)
    if kind == "piecewise":
        if n_betas < 6:
            return torch.linspace(0.0, 1.0, n_betas, dtype=dtype)
        first = max(round(n_betas * 500 / 14500), 1)
        second = max(round(n_betas * 4000 / 14500), 1)
        third = n_betas - first - second
        return torch.cat([
            torch.linspace(0.0, 0.5, first + 1, dtype=dtype)[:-1],
            torch.linspace(0.5, 0.9, second + 1, dtype=dtype)[:-1],
            torch.linspace(0.9, 1.0, third, dtype=dtype),
        ])
    raise ValueError(f"unknown schedule {kind!r}; use 'linear' or 'piecewise' (or schedule='adaptive' in ais)")


def _check_betas(betas) -> Tensor:
    betas = torch.as_tensor(betas, dtype=torch.float64).flatten().cpu()
    if betas.numel() < 2:
        raise ValueError(f"a temperature ladder needs at least 2 values; found {betas.numel()}")
    if not bool(torch.isfinite(betas).all()):
        raise ValueError("the temperature ladder contains NaN or infinite values")
    if betas[0] != 0.0 or betas[-1] != 1.0:
        raise ValueError(
            f"the inverse temperatures must run from 0 to 1; found {betas[0].item():g} to {betas[-1].item():g}"
        )
    if not bool((betas[1:] > betas[:-1]).all()):
        raise ValueError("the inverse temperatures must be strictly increasing")
    return betas


def _ladder(n_betas: int, schedule: str, betas, target_cess: float) -> Tensor | None:
    """The checked fixed ladder, or None for the adaptive schedule."""
    if betas is not None:
        return _check_betas(betas)
    if schedule == "adaptive":
        if not 0.0 < target_cess < 1.0:
            raise ValueError(f"target_cess must lie strictly between 0 and 1; found {target_cess}")
        return None
    return _check_betas(beta_schedule(n_betas, schedule))


def _prepare(model: EnergyModel, n_chains, n_betas, schedule, betas, target_cess, seed, generator):
    """Checked chain count, ladder (None: adaptive) and generator shared by both directions."""
    n_chains = check_positive_int(n_chains, "n_chains", minimum=2)
    betas = _ladder(n_betas, schedule, betas, target_cess)
    _check_model(model)
    return n_chains, betas, resolve_generator(model.device, seed, generator)


def _check_model(model: EnergyModel) -> None:
    for name, param in model.named_parameters():
        if not bool(torch.isfinite(param).all()):
            raise ValueError(f"model parameter {name!r} contains NaN or infinite values")


@torch.no_grad()
def base_biases(model: EnergyModel, data=None) -> Tensor:
    """Visible biases of the base model: the data's marginals, or zeros without data."""
    if data is None:
        return torch.zeros(model.visible.field_shape, device=model.device, dtype=model.dtype)
    return model.visible_bias_for(data)


def _conditional_ess(log_w: Tensor, increment: Tensor) -> float:
    """``(sum W u)^2 / sum W u^2`` for normalised weights ``W`` and increments ``u = exp(increment)``:
    the fraction of the particle population a step keeps (Zhou, Johansen & Aston 2016)."""
    weights = torch.softmax(log_w, 0)
    u = torch.exp(increment - increment.max())
    return float((weights @ u) ** 2 / (weights @ (u * u)))


def _next_beta(path: TemperedPath, v: Tensor, pre: Tensor, beta: float, end: float, current: Tensor,
               log_w: Tensor, target: float) -> float:
    """The farthest step toward ``end`` whose conditional ESS stays at or above ``target`` (bisection)."""
    if _conditional_ess(log_w, path.log_f(v, end, pre) - current) >= target:
        return end
    low, high = 0.0, 1.0  # fractions of the remaining distance
    for _ in range(14):
        middle = (low + high) / 2
        candidate = beta + middle * (end - beta)
        if _conditional_ess(log_w, path.log_f(v, candidate, pre) - current) >= target:
            low = middle
        else:
            high = middle
    return beta + max(low, 2.0**-14) * (end - beta)


@torch.no_grad()
@trusted_inputs()
def _anneal(path: TemperedPath, v: Tensor, generator, betas: Tensor | None, *, reverse: bool,
            target_cess: float, progress: bool = False) -> tuple[Tensor, int]:
    """Log importance weights along ``betas`` (or an adaptive ladder when ``betas`` is None),
    from 0 to 1, or from 1 to 0 when ``reverse``, starting from states ``v``.

    Returns the log-weights and the number of inverse temperatures used.  With
    ``progress`` reports the temperatures done, the current ``beta`` and the
    effective sample size of the weights so far on stderr (:mod:`torchrbm.progress`).
    """
    start, end = (1.0, 0.0) if reverse else (0.0, 1.0)
    ladder = None if betas is None else iter((betas.flip(0) if reverse else betas)[1:].tolist())
    bar = Progress(total=None if betas is None else betas.numel() - 1, enabled=progress, unit="beta",
                   desc="reverse AIS" if reverse else "AIS")
    log_w = torch.zeros(v.shape[0], dtype=torch.float64, device=v.device)
    beta = start
    pre = path.model.hidden_preactivation(v)
    current = path.log_f(v, beta, pre)
    count = 1
    while beta != end:
        following = next(ladder) if ladder is not None else _next_beta(
            path, v, pre, beta, end, current, log_w, target_cess)
        log_w += path.log_f(v, following, pre) - current
        count += 1
        beta = following
        bar.update(1)
        if progress and count % 200 == 0:
            bar.set_postfix(beta=f"{beta:.4f}", ess=f"{_ess(torch.exp(log_w - log_w.max())):.1f}")
        if beta == end:
            break
        v = path.gibbs(v, beta, generator, pre)
        pre = path.model.hidden_preactivation(v)
        current = path.log_f(v, beta, pre)
    bar.close()
    return log_w, count


def _ess(ratios: Tensor) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2`` of importance weights (any common scale)."""
    return float(ratios.sum() ** 2 / (ratios**2).sum())


def _summarise(log_w: Tensor, base_log_z: float, sign: int, n_betas: int, direction: str,
               seconds: float) -> AISResult:
    n = log_w.numel()
    shift = log_w.max()
    ratios = torch.exp(log_w - shift)
    mean = ratios.mean()
    log_mean = float(torch.log(mean) + shift)
    relative = float(ratios.std() / (mean * math.sqrt(n))) if n > 1 else float("inf")
    log_z = base_log_z + sign * log_mean
    # Reverse AIS estimates Z_A / Z_B, so its interval maps through 1/x.
    low = math.log(1 - 3 * relative) if relative < 1 / 3 else -math.inf
    high = math.log(1 + 3 * relative)
    interval = (log_z + low, log_z + high) if sign > 0 else (log_z - high, log_z - low)
    ess = _ess(ratios)
    return AISResult(log_z, relative, interval, ess, log_w.cpu(), base_log_z, n, n_betas, direction, seconds)


@threads.per_call(lambda arguments: (arguments["model"], arguments["n_chains"]))
@torch.no_grad()
def ais(
    model: EnergyModel,
    *,
    n_chains: int = 100,
    n_betas: int = 10000,
    betas=None,
    schedule: str = "piecewise",
    target_cess: float = 0.999,
    data=None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> AISResult:
    """Forward AIS estimate of ``log Z`` from ``n_chains`` chains over ``n_betas`` temperatures.

    ``data`` fits the base model's visible biases to its marginals (recommended:
    a much better base than the uniform one).  ``betas`` overrides the schedule;
    it must increase strictly from 0 to 1.  ``schedule="adaptive"`` ignores
    ``n_betas`` and chooses each next temperature so that the conditional effective
    sample size of the step is ``target_cess`` (a fraction; closer to 1 means more,
    smaller steps).  The adaptive ladder depends on the chains themselves, which
    adds a small bias of its own; fixed ladders do not.  ``progress`` reports the
    temperatures done, the current ``beta`` and the effective sample size on stderr:
    a tqdm bar on a terminal, else a plain line every few seconds (:mod:`torchrbm.progress`).
    """
    n_chains, betas, generator = _prepare(model, n_chains, n_betas, schedule, betas, target_cess, seed, generator)
    path = TemperedPath(model, base_biases(model, data))
    start = time.perf_counter()
    v = model.visible.sample(path.base_bias.expand(n_chains, *path.base_bias.shape), generator)
    log_w, count = _anneal(path, v, generator, betas, reverse=False, target_cess=target_cess, progress=progress)
    return _summarise(log_w, path.base_log_partition(), +1, count, "forward", time.perf_counter() - start)


@threads.per_call(lambda arguments: (arguments["model"], arguments["n_chains"]))
@torch.no_grad()
def reverse_ais(
    model: EnergyModel,
    data,
    *,
    n_chains: int = 100,
    n_betas: int = 10000,
    betas=None,
    schedule: str = "piecewise",
    target_cess: float = 0.999,
    burn_in: int = 0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> AISResult:
    """Reverse AIS estimate of ``log Z``: chains start at ``n_chains`` rows of ``data``
    (drawn without replacement when there are enough) and anneal from the RBM to the
    base model fitted to ``data``.  Conservative: too high in expectation when the
    data look like model samples, so the log-likelihood it implies is a lower bound.
    ``burn_in`` Gibbs steps of the RBM itself first move the chains from the data
    toward the model's distribution, which keeps the estimate conservative for a
    model that does not fit its data well.  Schedules and ``progress`` as for :func:`ais`.
    """
    n_chains, betas, generator = _prepare(model, n_chains, n_betas, schedule, betas, target_cess, seed, generator)
    data = model.check_data(data)
    path = TemperedPath(model, base_biases(model, data))
    start = time.perf_counter()
    if data.shape[0] >= n_chains:
        rows = torch.randperm(data.shape[0], generator=generator, device=generator.device)[:n_chains]
    else:
        rows = torch.randint(data.shape[0], (n_chains,), generator=generator, device=generator.device)
    v = data[rows.to(data.device)].to(device=model.device, dtype=model.dtype)
    if burn_in:
        v = model.gibbs(v, check_positive_int(burn_in, "burn_in"), generator)
    log_w, count = _anneal(path, v, generator, betas, reverse=True, target_cess=target_cess, progress=progress)
    return _summarise(log_w, path.base_log_partition(), -1, count, "reverse", time.perf_counter() - start)

