"""A run directory as one self-contained HTML page: settings, data, results, curves, figures, timing.

``torchrbm report RUN_DIR`` (and every ``torchrbm train``) writes
``RUN_DIR/report.html``.  The figures are embedded as ``data:`` URIs and the
page has no scripts and no external references, so it opens offline, can be
mailed as one file, and shows only what the run directory holds.
"""

from __future__ import annotations

import base64
import html
import inspect
import os
from pathlib import Path
from typing import Any

from ._utils.files import atomic_write_text
from .runs import RunDirectory
from .training.monitor import current_record
from .units import UNIT_TYPES

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; }
th { background: #f4f4f4; text-align: left; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; } img { max-width: 100%; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="number">{value:.6g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="number">{value}</td>'
    if isinstance(value, (list, tuple)):
        return f"<td>{html.escape(', '.join(_text(v) for v in value))}</td>"
    return f"<td>{html.escape(_text(value))}</td>"


def _text(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(rows: list[tuple[str, Any]], header: tuple[str, str] = ("setting", "value")) -> str:
    body = "".join(f"<tr><th>{html.escape(str(key))}</th>{_cell(value)}</tr>" for key, value in rows)
    return f"<table><tr><th>{header[0]}</th><th>{header[1]}</th></tr>{body}</table>"


def _results_table(summary: dict[str, Any]) -> str:
    """One row per measured quantity, with the method that produced it and its uncertainty."""
    rows = []
    for name, entry in summary.items():
        if not isinstance(entry, dict):
            continue
        method = entry.get("method", name)
        for key, value in entry.items():
            if key in ("method", "unit") or not isinstance(value, (int, float, list)) or isinstance(value, bool):
                continue
            per_example = "likelihood" in key or "free_energy" in key  # the entry's unit is theirs
            unit = entry.get("unit", "") if per_example else ""
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(method))}</td>"
                        f"<td>{html.escape(key)}</td>{_cell(value)}<td>{html.escape(unit)}</td></tr>")
    head = "<tr><th>measure</th><th>method</th><th>quantity</th><th>value</th><th>unit</th></tr>"
    return f'<table id="results">{head}{"".join(rows)}</table>' if rows else "<p>No final measurements.</p>"


#: The per-epoch metrics shown, in this order (those the run recorded).
METRIC_KEYS = ("epoch", "recon_error", "recon_error_valid", "free_energy_gap", "log_likelihood_train",
               "log_likelihood_valid", "log_likelihood_method", "lr", "momentum", "time")


def _metrics_table(records: list[dict[str, Any]]) -> str:
    records = [current_record(record) for record in records]  # a run of an earlier version
    keys = [key for key in METRIC_KEYS if any(record.get(key) is not None for record in records)]
    head = "".join(f"<th>{html.escape(key)}</th>" for key in keys)
    rows = "".join("<tr>" + "".join(_cell(record.get(key, "")) for key in keys) + "</tr>" for record in records)
    return f'<table id="metrics"><tr>{head}</tr>{rows}</table>'


def _figures(run: RunDirectory) -> str:
    parts = []
    for png in run.figures():
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = html.escape(png.stem.replace("_", " "))
        parts.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{caption}</figcaption></figure>")
    return "".join(parts) or "<p>No figures.</p>"


#: Settings that apply only to some runs: shown when the run's model or sampler uses them.
_APPLIES = {
    "n_temps": lambda c: c.get("sampler") == "pt",
    "n_chains": lambda c: c.get("sampler") in ("pcd", "pt"),
    "order": lambda c: c.get("model") == "crbm",
    "filters": lambda c: c.get("model") == "conv",
    "filter_size": lambda c: c.get("model") == "conv",
    "pool": lambda c: c.get("model") == "conv",
    "learn_sigma": lambda c: _takes_option(c.get("visible", "bernoulli"), "learn_sigma"),
    "sparsity_target": lambda c: c.get("sparsity_target") is not None,
    "clip_grad_norm": lambda c: c.get("clip_grad_norm") is not None,
    "ais_betas": lambda c: True,
}


def _takes_option(unit_type: str, option: str) -> bool:
    """Whether the unit type of that name has ``option`` (a Gaussian's ``learn_sigma``, say)."""
    return unit_type in UNIT_TYPES and option in inspect.signature(UNIT_TYPES[unit_type]).parameters


def _headline(config: dict[str, Any], summary: dict[str, Any]) -> str:
    """What a reader wants first: the validation log-likelihood with its combined interval, forward and
    reverse AIS side by side, the reconstruction error, the training time, and data and model in one line."""
    parts = []
    n_hidden = config.get("n_hidden", config.get("hidden", "?"))
    model = (f"{config.get('model', 'rbm')} with {config.get('n_visible', '?')} {config.get('visible', 'bernoulli')} "
             f"visible and {n_hidden} hidden units, trained by {config.get('sampler')} for "
             f"{summary.get('epochs', '?')} epochs on {config.get('n_train', '?')} rows of {config.get('data', '?')}")
    parts.append(f'<p id="model-line">{html.escape(model)}.</p>')
    rows = []
    for key, label in (("exact", "exact enumeration"), ("ais", "forward AIS (optimistic in expectation)"),
                       ("rais", "reverse AIS (conservative in expectation)")):
        entry = summary.get(key, {})
        if "log_likelihood" not in entry:
            continue
        low, high = entry.get("log_likelihood_interval_3sigma", (None, None))
        band = "" if low is None else f"{low:.3f} to {high:.3f}"
        rows.append(f"<tr><th>{html.escape(label)}</th><td class=\"number\">{entry['log_likelihood']:.3f}</td>"
                    f"<td>{band}</td><td class=\"number\">{entry.get('log_partition_std', 0.0):.3f}</td>"
                    f"<td class=\"number\">{entry.get('mean_over_rows_std_error', float('nan')):.3f}</td></tr>")
    if rows:
        held_out = summary.get("validation_rows", "none") != "none"
        rows_label = html.escape(f"the validation rows ({summary['validation_rows']})" if held_out
                                 else f"the {summary.get('evaluated_on', 'data')} (none held out)")
        parts.append(
            f'<p>Log-likelihood of {rows_label}, nats per example; the interval is '
            "mean ± 3·√(σ_logZ² + s²/n), the estimator's error in log Z and the sampling error of the mean over "
            "the rows.</p>"
            '<table id="headline"><tr><th>method</th><th>log-likelihood</th><th>3σ interval</th><th>σ_logZ</th>'
            f"<th>s/√n</th></tr>{''.join(rows)}</table>")
        if "ais" in summary and "rais" in summary:
            parts.append("<p>Forward AIS tends to overstate the likelihood and reverse AIS to understate it: where "
                         "they agree within their intervals the true value most likely lies between them.</p>")
    facts = []
    if summary.get("recon_error") is not None:
        facts.append(f"reconstruction error {summary['recon_error']:.5f}")
    if "train_seconds" in summary:
        facts.append(f"training time {summary['train_seconds']:.1f} s")
    if facts:
        parts.append(f"<p>{html.escape('; '.join(facts))}.</p>")
    return "".join(parts)


def _interrupted(summary: dict[str, Any], records: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """A banner for a run that did not finish: when it stopped and how to continue it."""
    if "interrupted" in summary:
        text = f"This run was interrupted {summary['interrupted']}."
    elif records and not summary and len(records) < config.get("epochs", 0):
        text = (f"This run has not finished: {len(records)} of {config['epochs']} epochs are recorded (still running, "
                "or stopped); continue it with torchrbm train --out RUN_DIR --resume.")
    else:
        return ""
    return f'<p id="interrupted"><strong>{html.escape(text)}</strong></p>'


def render_report(run_dir: str | os.PathLike) -> str:
    """The HTML page of a run directory (see the module docstring)."""
    run = RunDirectory(run_dir)
    config = run.config()
    if not config:
        raise FileNotFoundError(f"not a torchrbm run directory: {run / run.CONFIG} not found")
    summary = run.summary()
    records = run.metrics()
    environment = config.pop("environment", {})
    data_keys = ("data", "n_train", "n_held_out", "n_visible", "visible", "data_dir")
    data_rows = [(key, config[key]) for key in data_keys if key in config]
    settings = [(key, value) for key, value in sorted(config.items())
                if key not in data_keys and _APPLIES.get(key, lambda c: True)(config)]
    timing = [(key, summary[key]) for key in ("epochs", "train_seconds") if key in summary]
    if records and all("time" in record for record in records):
        timing.append(("mean seconds per epoch", sum(r["time"] for r in records) / len(records)))
    title = f"torchrbm run {run.path.resolve().name}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _interrupted(summary, records, config),
        _headline(config, summary),
        "<h2>Results</h2>",
        f"<p>Measured on {html.escape(str(summary.get('evaluated_on', 'the data')))}; each value with the "
        "method that produced it (sampled estimates with their 3σ interval).</p>",
        _results_table(summary),
        "<h2>Figures</h2>", _figures(run),
        "<h2>Data</h2>", _table(data_rows),
        "<h2>Settings</h2>", _table(settings),
        "<h2>Timing</h2>", _table(timing, ("quantity", "value")),
        f"<details><summary>Per-epoch metrics ({len(records)} epochs)</summary>", _metrics_table(records),
        "</details>",
        "<h2>Environment</h2>", _table(sorted(environment.items())),
        "</body></html>", ""])


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``RUN_DIR/report.html`` (atomically) and return its path."""
    path = RunDirectory(run_dir).report
    atomic_write_text(path, render_report(run_dir))
    return path
