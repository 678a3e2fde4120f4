"""A run directory as one self-contained HTML page: settings, data, results, curves, figures, timing.

``torchrbm report RUN_DIR`` (and every ``torchrbm train``) writes
``RUN_DIR/report.html``.  The figures are embedded as ``data:`` URIs and the
page has no scripts and no external references, so it opens offline, can be
mailed as one file, and shows only what the run directory holds.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from .files import atomic_write_text
from .monitor import current_record

#: Figures shown first, in this order; any other PNG in the run directory follows.
FIGURE_ORDER = ("curves.png", "filters.png", "samples.png", "reconstructions.png", "generated.png")

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


def _figures(run_dir: Path) -> str:
    pngs = sorted(run_dir.glob("*.png"), key=lambda p: (FIGURE_ORDER.index(p.name) if p.name in FIGURE_ORDER
                                                         else len(FIGURE_ORDER), p.name))
    parts = []
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = html.escape(png.stem.replace("_", " "))
        parts.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{caption}</figcaption></figure>")
    return "".join(parts) or "<p>No figures.</p>"


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def render_report(run_dir: str | os.PathLike) -> str:
    """The HTML page of a run directory (see the module docstring)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"not a torchrbm run directory: {config_path} not found")
    config = json.loads(config_path.read_text())
    summary = _read_json(run_dir / "summary.json")
    metrics_path = run_dir / "metrics.jsonl"
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()] \
        if metrics_path.is_file() else []
    environment = config.pop("environment", {})
    data_keys = ("data", "n_train", "n_held_out", "n_visible", "visible", "data_dir")
    data_rows = [(key, config[key]) for key in data_keys if key in config]
    settings = [(key, value) for key, value in sorted(config.items()) if key not in data_keys]
    timing = [(key, summary[key]) for key in ("epochs", "train_seconds") if key in summary]
    if records and all("time" in record for record in records):
        timing.append(("mean seconds per epoch", sum(r["time"] for r in records) / len(records)))
    title = f"torchrbm run {run_dir.resolve().name}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Results</h2>",
        f"<p>Measured on {html.escape(str(summary.get('evaluated_on', 'the data')))}; each value with the "
        "method that produced it (sampled estimates with their 3σ interval).</p>",
        _results_table(summary),
        "<h2>Figures</h2>", _figures(run_dir),
        "<h2>Data</h2>", _table(data_rows),
        "<h2>Settings</h2>", _table(settings),
        "<h2>Timing</h2>", _table(timing, ("quantity", "value")),
        "<h2>Per-epoch metrics</h2>", _metrics_table(records),
        "<h2>Environment</h2>", _table(sorted(environment.items())),
        "</body></html>", ""])


def write_report(run_dir: str | os.PathLike) -> Path:
    """Write ``RUN_DIR/report.html`` (atomically) and return its path."""
    path = Path(run_dir) / "report.html"
    atomic_write_text(path, render_report(run_dir))
    return path
