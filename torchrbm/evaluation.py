"""One call that measures a model every way torchrbm knows, each number labelled with its method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ais import AISResult, ais, reverse_ais
from .estimate import (
    exact_log_partition,
    free_energy_gap,
    mean_free_energy,
    pseudo_log_likelihood,
    reconstruction_error,
)
from .validation import as_data_tensor, holds_other_than_0_and_1

METHODS = ("exact", "ais", "rais", "pll", "recon", "fe")
UNIT = "nats per example"


#: Below this effective sample size an AIS estimate is flagged as unreliable.
MIN_ESS = 10.0

#: Why a log-likelihood of grey levels under binary units is not one.
NOT_BINARY = ("the data are not binary: for values between 0 and 1 this is -F(v) - log Z, not a log-probability "
              "(binarise the data to compare with published log-likelihoods)")


def _sampled(result: AISResult, mean_free: float) -> dict[str, Any]:
    low, high = result.interval
    entry = {
        **result.as_dict(),
        "log_likelihood": -mean_free - result.log_z,
        "log_likelihood_interval_3sigma": [-mean_free - high, -mean_free - low],
        "unit": UNIT,
    }
    if result.ess < MIN_ESS:
        entry["warning"] = (
            f"effective sample size {result.ess:.1f} of {result.n_chains} chains: the weights rest on very few "
            "chains and this estimate is unreliable; use more temperatures (or chains)"
        )
    return entry


def evaluate(
    model,
    data,
    methods: Sequence[str] = METHODS,
    *,
    reference=None,
    n_chains: int = 100,
    n_betas: int = 10000,
    burn_in: int = 0,
    pll: str = "full",
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure ``model`` on ``data`` by each of ``methods``.

    * ``exact``: enumeration (skipped, with the reason, for large models unless asked for alone);
    * ``ais`` / ``rais``: forward and reverse AIS with ``n_chains`` x ``n_betas`` and their
      ±3 sigma intervals (base fitted to ``data``; reverse chains start at ``data``);
    * ``pll``: pseudo-log-likelihood (``pll="full"`` or ``"stochastic"``; skipped, with the
      reason, for non-binary units or data unless asked for alone);
    * ``recon``: mean-field reconstruction error;
    * ``fe``: mean free energy and, with ``reference`` (training) data, the free-energy
      gap ``<F>_data - <F>_reference`` on equal-sized subsets.

    ``progress`` reports the progress of AIS, reverse AIS and the pseudo-log-likelihood on
    stderr (:mod:`torchrbm.progress`).
    """
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown evaluation method(s) {unknown}; choose from {', '.join(METHODS)}")
    if pll not in ("full", "stochastic"):
        raise ValueError(f"unknown pseudo-likelihood method {pll!r}; use 'full' or 'stochastic'")
    data = as_data_tensor(data, n_features=model.n_visible, units=model.visible)
    mean_free = mean_free_energy(model, data)
    results: dict[str, Any] = {"n_examples": data.shape[0]}

    def unless_inapplicable(name: str, description: str, measure) -> None:
        """``results[name] = measure()``, or the reason it does not apply to this model,
        which is an error only if ``name`` was asked for alone."""
        try:
            results[name] = measure()
        except ValueError as err:
            if list(methods) == [name]:
                raise
            results[name] = {"method": description, "skipped": str(err)}

    if "exact" in methods:

        def exact() -> dict[str, Any]:
            log_z = exact_log_partition(model)
            return {"method": "exact enumeration", "log_partition": log_z, "log_likelihood": -mean_free - log_z,
                    "unit": UNIT}

        unless_inapplicable("exact", "exact enumeration", exact)
    if "ais" in methods:
        estimate = ais(model, n_chains=n_chains, n_betas=n_betas, data=data, seed=seed, progress=progress)
        results["ais"] = _sampled(estimate, mean_free)
    if "rais" in methods:
        estimate = reverse_ais(model, data, n_chains=n_chains, n_betas=n_betas, burn_in=burn_in, seed=seed,
                               progress=progress)
        results["rais"] = _sampled(estimate, mean_free)
    if "pll" in methods:
        unless_inapplicable("pll", f"pseudo-log-likelihood ({pll})", lambda: {
            "method": f"pseudo-log-likelihood ({pll})",
            "pseudo_log_likelihood": pseudo_log_likelihood(model, data, pll, seed=seed, progress=progress),
            "unit": UNIT})
    if "recon" in methods:
        results["recon"] = {"method": "mean-field reconstruction, squared error per unit",
                            "reconstruction_error": reconstruction_error(model, data)}
    if "fe" in methods:
        entry: dict[str, Any] = {"method": "mean free energy", "mean_free_energy": mean_free, "unit": UNIT}
        if reference is not None:
            size = min(data.shape[0], as_data_tensor(reference, name="reference").shape[0])
            entry["free_energy_gap"] = free_energy_gap(model, reference[:size], data[:size])
            entry["free_energy_gap_method"] = f"<F>(data) - <F>(reference), first {size} rows of each"
        results["fe"] = entry
    if model.visible.name == "bernoulli" and holds_other_than_0_and_1(data):
        for entry in results.values():
            if isinstance(entry, dict) and "log_likelihood" in entry:
                entry["warning"] = "; ".join(filter(None, [entry.get("warning"), NOT_BINARY]))
    return results
