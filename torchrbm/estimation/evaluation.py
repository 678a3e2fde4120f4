"""One call that measures a model every way torchrbm knows, each number labelled with its method."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._utils.validation import as_data_tensor, as_sample_weight, check_positive_int
from ..models.protocol import EnergyModel
from ..sampling import enumeration
from ..sampling.generation import generate
from .ais import AISResult, ais, reverse_ais
from .estimate import (
    at_most_zero,
    exact_log_partition,
    free_energies,
    free_energy_gap,
    impossible_log_likelihood,
    pseudo_log_likelihood,
    reconstruction_error,
    weighted_mean,
)
from .statistics import compare_statistics

METHODS = ("exact", "ais", "rais", "pll", "recon", "fe", "stats")
#: What :func:`evaluate` measures unless asked otherwise (generating samples for ``stats`` is asked for).
DEFAULT_METHODS = METHODS[:-1]
UNIT = "nats per example"


#: Below this effective sample size an AIS estimate is flagged as unreliable.
MIN_ESS = 10.0

#: Why a log-likelihood of grey levels under binary units is not one.
NOT_BINARY = ("the data are not binary: for values between 0 and 1 this is -F(v) - log Z, not a log-probability "
              "(binarise the data to compare with published log-likelihoods)")


def _log_likelihood_entry(log_z: float, log_z_std: float, free: Tensor,
                          weights: Tensor | None = None) -> dict[str, Any]:
    """``<log p(v)> = -<F(v)> - log Z`` over the ``n`` rows, with its two uncertainties, named:
    ``log_partition_std`` (sigma_logZ, the estimator's) and ``mean_over_rows_std_error``
    (``s / sqrt(n)``, ``s`` the rows' standard deviation of ``-F(v)``: how much the mean would move on
    other rows from the same distribution).  ``log_likelihood_interval_3sigma`` is
    ``mean -+ 3 sqrt(sigma_logZ^2 + s^2 / n)``.  With sample ``weights`` the mean is
    ``sum_n w_n (-F(v_n)) / sum_n w_n`` and its error ``sqrt(sum_n w_n^2 (x_n - mean)^2) / sum_n w_n``;
    ``n_effective`` is ``(sum w)^2 / sum w^2``."""
    n = free.numel()
    mean_free = weighted_mean(free, weights)
    if weights is None:
        rows_error = float(free.std()) / math.sqrt(n) if n > 1 else 0.0
        counts = {"n_rows": n}
    else:
        total = weights.sum()
        rows_error = float((weights.square() @ (free - mean_free).square()).sqrt() / total)
        counts = {"n_rows": n, "n_effective": float(total.square() / weights.square().sum())}
    mean = -mean_free - log_z
    std = math.hypot(log_z_std, rows_error)
    return {"log_likelihood": mean, "log_likelihood_std": std,
            "log_likelihood_interval_3sigma": [mean - 3 * std, mean + 3 * std],
            "log_partition_std": log_z_std, "mean_over_rows_std_error": rows_error, **counts, "unit": UNIT}


def _sampled(model: EnergyModel, result: AISResult, request: _Request) -> dict[str, Any]:
    low, high = result.interval
    entry = {**result.as_dict(), **_log_likelihood_entry(result.log_z, result.log_z_std, request.free, request.weights)}
    mean_free = request.mean_free_energy()
    entry["log_likelihood_interval_3sigma_of_log_z"] = [-mean_free - high, -mean_free - low]
    warnings = []
    if result.ess < MIN_ESS:
        warnings.append(
            f"effective sample size {result.ess:.1f} of {result.n_chains} chains: the weights rest on very few "
            "chains and this estimate is unreliable; use more temperatures (or chains)"
        )
    warnings.append(impossible_log_likelihood(model, entry["log_likelihood"]))
    _add_warnings(entry, warnings)
    return entry


def _add_warnings(entry: dict[str, Any], warnings: list[str | None]) -> None:
    """Append the non-empty ``warnings`` to ``entry["warning"]``, separated by "; "."""
    text = "; ".join(filter(None, [entry.get("warning"), *warnings]))
    if text:
        entry["warning"] = text


@dataclass(frozen=True)
class _Request:
    """What every measure of one :func:`evaluate` call shares: the checked data, its free energies
    ``F(v)`` and the options."""

    data: Tensor
    free: Tensor
    reference: Any
    n_chains: int
    n_betas: int
    burn_in: int
    pll: str
    seed: int
    progress: bool
    weights: Tensor | None = None
    n_samples: int = 1000
    gibbs_steps: int = 1000

    def mean_free_energy(self) -> float:
        """``<F(v)>`` over the rows, weighted by the sample weights if any."""
        return weighted_mean(self.free, self.weights)


def _exact(model: EnergyModel, request: _Request) -> dict[str, Any]:
    log_z = exact_log_partition(model)
    entry = {"method": "exact enumeration", "log_partition": log_z,
             **_log_likelihood_entry(log_z, 0.0, free_energies(enumeration.as_float64(model), request.data),
                                     request.weights)}
    entry["log_likelihood"] = at_most_zero(model, entry["log_likelihood"], log_z)
    return entry


def _ais(model: EnergyModel, request: _Request) -> dict[str, Any]:
    estimate = ais(model, n_chains=request.n_chains, n_betas=request.n_betas, data=request.data, seed=request.seed,
                   progress=request.progress)
    return _sampled(model, estimate, request)


def _reverse_ais(model: EnergyModel, request: _Request) -> dict[str, Any]:
    estimate = reverse_ais(model, request.data, n_chains=request.n_chains, n_betas=request.n_betas,
                           burn_in=request.burn_in, seed=request.seed, progress=request.progress)
    return _sampled(model, estimate, request)


def _pseudo_likelihood(model: EnergyModel, request: _Request) -> dict[str, Any]:
    value = pseudo_log_likelihood(model, request.data, request.pll, seed=request.seed, progress=request.progress)
    return {"method": f"pseudo-log-likelihood ({request.pll})", "pseudo_log_likelihood": value, "unit": UNIT}


def _reconstruction(model: EnergyModel, request: _Request) -> dict[str, Any]:
    return {"method": "mean-field reconstruction, squared error per unit",
            "reconstruction_error": reconstruction_error(model, request.data)}


def _free_energy(model: EnergyModel, request: _Request) -> dict[str, Any]:
    entry: dict[str, Any] = {"method": "mean free energy", "mean_free_energy": request.mean_free_energy(),
                             "unit": UNIT}
    if request.reference is not None:
        data, reference = request.data, request.reference
        size = min(data.shape[0], as_data_tensor(reference, name="reference").shape[0])
        entry["free_energy_gap"] = free_energy_gap(model, reference[:size], data[:size])
        entry["free_energy_gap_method"] = f"<F>(data) - <F>(reference), first {size} rows of each"
    return entry


def _statistics(model: EnergyModel, request: _Request) -> dict[str, Any]:
    states = model.visible.unit_states()
    if states is None:
        raise ValueError(f"the generative checks compare frequencies of states: they need visible units with a few "
                         f"states each (Potts, Bernoulli, spin), not {model.visible.name}")
    generator = torch.Generator(device=model.device).manual_seed(request.seed)
    samples = generate(model, request.n_samples, request.gibbs_steps, generator=generator, progress=request.progress)
    states = states.to(device=model.device, dtype=model.dtype)
    data = request.data.to(device=states.device, dtype=states.dtype)
    comparison = compare_statistics(torch.searchsorted(states, samples), torch.searchsorted(states, data),
                                    q=states.numel(), reference_weight=request.weights)
    return {**comparison.as_dict(), "samples": f"{request.n_samples} Gibbs chains from the visible biases, after "
            f"{request.gibbs_steps} steps"}


#: Each method's measure, and for those that may not apply to a model, how a skipped entry is labelled.
_MEASURES: dict[str, tuple[Callable[[EnergyModel, _Request], dict[str, Any]], Callable[[_Request], str] | None]] = {
    "exact": (_exact, lambda request: "exact enumeration"),
    "ais": (_ais, None),
    "rais": (_reverse_ais, None),
    "pll": (_pseudo_likelihood, lambda request: f"pseudo-log-likelihood ({request.pll})"),
    "recon": (_reconstruction, None),
    "fe": (_free_energy, None),
    "stats": (_statistics, lambda request: "generative checks"),
}


def evaluate(
    model: EnergyModel,
    data,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    reference=None,
    n_chains: int = 100,
    n_betas: int = 10000,
    burn_in: int = 0,
    pll: str = "full",
    seed: int = 0,
    progress: bool = False,
    sample_weight=None,
    n_samples: int = 1000,
    gibbs_steps: int = 1000,
) -> dict[str, Any]:
    """Measure ``model`` on ``data`` by each of ``methods``.

    * ``exact``: enumeration (skipped, with the reason, for large models unless asked for alone);
    * ``ais`` / ``rais``: forward and reverse AIS with ``n_chains`` x ``n_betas`` and their
      ±3 sigma intervals (base fitted to ``data``; reverse chains start at ``data``);
    * ``pll``: pseudo-log-likelihood (``pll="full"`` or ``"stochastic"``; skipped, with the
      reason, for non-binary units or data unless asked for alone);
    * ``recon``: mean-field reconstruction error;
    * ``fe``: mean free energy and, with ``reference`` (training) data, the free-energy
      gap ``<F>_data - <F>_reference`` on equal-sized subsets;
    * ``stats`` (only when asked for): ``n_samples`` Gibbs chains run ``gibbs_steps`` steps from the
      visible biases, and Pearson's ``r`` between their single-site frequencies and pairwise connected
      correlations and those of ``data`` (:func:`~torchrbm.compare_statistics`; skipped, with the reason,
      for units without a few states each unless asked for alone).

    Every log-likelihood entry carries ``log_likelihood`` (``-<F(v)> - log Z``), its uncertainty
    ``sqrt(sigma_logZ^2 + s^2 / n)`` and the interval ``mean -+ 3`` of it (see
    :func:`_log_likelihood_entry`); sampled ones also carry ``log_likelihood_interval_3sigma_of_log_z``, the
    interval of log Z alone mapped to the log-likelihood (:attr:`~torchrbm.AISResult.interval`: the ratio of
    partition functions ±3 sigma, then its logarithm).  With a large sigma that interval is lopsided and can
    reach further on one side than the symmetric one, whose sigma_logZ is the delta method's: above the
    estimate for forward AIS, below it for reverse AIS (whose ratio maps through ``1/x``).  ``sample_weight``
    (one weight per row, e.g. an alignment's sequence weights) weighs them and the mean free energy.
    ``progress`` reports the progress of AIS, reverse AIS and the pseudo-log-likelihood on stderr
    (:mod:`torchrbm.progress`).
    """
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown evaluation method(s) {unknown}; choose from {', '.join(METHODS)}")
    if pll not in ("full", "stochastic"):
        raise ValueError(f"unknown pseudo-likelihood method {pll!r}; use 'full' or 'stochastic'")
    data = model.check_data(data)
    free = free_energies(model, data)
    weights = None if sample_weight is None else as_sample_weight(sample_weight, data.shape[0]).to(free.device)
    request = _Request(data, free, reference, n_chains, n_betas, burn_in, pll, seed, progress, weights,
                       check_positive_int(n_samples, "n_samples"), check_positive_int(gibbs_steps, "gibbs_steps"))
    results: dict[str, Any] = {"n_examples": data.shape[0]}
    for name in (method for method in METHODS if method in methods):
        measure, skipped_label = _MEASURES[name]
        try:
            results[name] = measure(model, request)
        except ValueError as err:  # a measure that does not apply: an error only when asked for alone
            if skipped_label is None or list(methods) == [name]:
                raise
            results[name] = {"method": skipped_label(request), "skipped": str(err)}
    if not model.visible.holds_states(data):
        for entry in results.values():
            if isinstance(entry, dict) and "log_likelihood" in entry:
                _add_warnings(entry, [NOT_BINARY])
    return results
