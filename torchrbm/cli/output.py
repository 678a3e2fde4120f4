"""The commands' results: as JSON, or as lines of text for a reader."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.text import listed
from ..data import datasets

#: Log-likelihood estimates, in the order they are printed.
LIKELIHOOD_METHODS = ("exact", "ais", "rais")
#: Single numbers a result may hold, in the order they are printed (with four decimals).
QUANTITIES = ("pseudo_log_likelihood", "reconstruction_error", "mean_free_energy", "free_energy_gap",
              "prediction_error", "copy_previous_frame_error")


#: What --out of ``sample`` and ``inpaint`` may end in: an array of rows, or a figure.
ARRAY_SUFFIXES, FIGURE_SUFFIXES = (".npy",), (".png", ".svg")


def output_path(out: str) -> Path:
    """``--out`` as a path whose directory exists (it is not created: a typo would hide the file)."""
    path = Path(out)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: directory {path.parent} does not exist (create it first)")
    return path


def check_suffix(path: Path, allowed: tuple[str, ...] = (*FIGURE_SUFFIXES, *ARRAY_SUFFIXES)) -> None:
    """Refuse an ``--out`` whose suffix is not one of ``allowed`` (by default: an array or a figure)."""
    if path.suffix not in allowed:
        raise ValueError(f"--out must end in {listed(allowed, 'or')}; found {path.name}")


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def in_original_units(results: dict[str, Any], scaler: datasets.Standardizer) -> None:
    """Label each log-likelihood of a model trained on standardised data as a density of ``z`` and
    add it in the data's own units: ``log p(x) = log p(z) + log |dz/dx|`` over the kept columns."""
    shift = scaler.log_abs_det_jacobian()
    kept, total = scaler.columns.numel(), scaler.mean.numel()
    for entry in results.values():
        if isinstance(entry, dict) and "log_likelihood" in entry:
            entry["log_likelihood_original_units"] = entry["log_likelihood"] + shift
            if "log_likelihood_interval_3sigma" in entry:
                entry["log_likelihood_interval_3sigma_original_units"] = [
                    bound + shift for bound in entry["log_likelihood_interval_3sigma"]]
            entry["density_of"] = (
                f"log-likelihood: a log-density of the standardised data z = (x - mean) / std over the {kept} "
                f"non-constant columns of {total}; log_likelihood_original_units is that of x's {kept} columns in "
                f"the data's own units (plus log |dz/dx| = {shift:.3f}); the {total - kept} constant column(s), a "
                "point mass, are left out of both")


def log_likelihood_line(entry: dict[str, Any]) -> str:
    """``-85.210 nats per example (3 sigma: ... to ...; sigma_logZ ..., s/sqrt(n) ... over n rows)``."""
    line = f"log-likelihood {entry['log_likelihood']:.3f} nats per example"
    if "log_likelihood_interval_3sigma" in entry:
        low, high = entry["log_likelihood_interval_3sigma"]
        line += (f" (3 sigma: {low:.3f} to {high:.3f}; sigma_logZ {entry['log_partition_std']:.3f}, "
                 f"s/sqrt(n) {entry['mean_over_rows_std_error']:.3f} over {entry['n_rows']} rows)")
    if "log_likelihood_original_units" in entry:
        line += (f" of the standardised data; {entry['log_likelihood_original_units']:.3f} in the data's own "
                 "units")
    return line


def _likelihood_parts(entry: dict[str, Any]) -> list[str]:
    """The log-likelihood, log Z and, for a sampled estimate of log Z, its error and effort."""
    parts = [log_likelihood_line(entry), f"log Z {entry['log_partition']:.3f}"]
    if "n_chains" in entry:  # a sampled estimate of log Z
        parts[-1] += f" +- {entry['log_partition_std']:.3f}"
        parts.append(f"{entry['n_chains']} chains x {entry['n_betas']} temperatures, "
                     f"ESS {entry['effective_sample_size']:.0f}, {entry['seconds']:.1f} s")
    return parts


def describe(entry: dict[str, Any]) -> str:
    """One line for a method's result."""
    if "skipped" in entry:
        return f"skipped: {entry['skipped']}"
    parts = _likelihood_parts(entry) if "log_likelihood" in entry else []
    parts += [f"{name.replace('_', ' ')} {entry[name]:.4f}" for name in QUANTITIES if name in entry]
    line = "; ".join(parts) + f"  [{entry['method']}]"
    return f"{line}\n  WARNING: {entry['warning']}" if "warning" in entry else line


def print_results(results: dict[str, Any], as_json: bool) -> None:
    """``results`` as JSON, or one line per entry (a method's result described by :func:`describe`)."""
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {describe(value) if isinstance(value, dict) else value}")


def print_training_summary(name: str, shape: tuple[int, int], run_dir: Path, summary: dict[str, Any],
                           prediction: dict[str, Any] | None) -> None:
    """``train``'s results on stdout (with or without --quiet): the model ``name`` of ``shape`` (visible x
    hidden units), the final reconstruction error, and the conditional model's ``prediction`` errors or
    the log-likelihood estimates in ``summary``."""
    print(f"trained {name} {shape[0]} x {shape[1]} in {summary['train_seconds']:.1f} s; run directory: {run_dir}")
    if summary["recon_error"] is not None:  # None after --epochs 0: the untrained model is evaluated
        print(f"final reconstruction error {summary['recon_error']:.5f}")
    rows = summary["evaluated_on"]
    if prediction is not None:
        print(f"{rows}: one-step prediction error {prediction['prediction_error']:.4f} "
              f"(copying the previous frame: {prediction['copy_previous_frame_error']:.4f})")
    for method in LIKELIHOOD_METHODS:
        entry = summary.get(method, {})
        if "log_likelihood" in entry:
            print(f"{rows}: {log_likelihood_line(entry)} by {entry['method']}")
            if "warning" in entry:
                print(f"  WARNING: {entry['warning']}")
    stats = summary.get("stats")
    if stats is not None:
        print(f"{stats['n_samples']} generated sequences against the {rows}: Pearson r {stats['site_frequency_r']:.3f} "
              f"(site frequencies), {stats['connected_correlation_r']:.3f} (pairwise connected correlations)")
