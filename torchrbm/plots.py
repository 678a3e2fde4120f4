"""Figures: filters, samples, reconstructions, learning curves, AIS weights, PT swap rates, hidden activity.

Each function returns a ``matplotlib.figure.Figure``; ``fig.savefig(path)`` writes
PNG or SVG.  Figures are built with the object-oriented API, so no display and no
global pyplot state are needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .models.protocol import EnergyModel


def image_shape(n_pixels: int) -> tuple[int, int]:
    """``(side, side)`` for a square number of pixels, else one row ``(1, n)``."""
    side = math.isqrt(n_pixels)
    return (side, side) if side * side == n_pixels else (1, n_pixels)


def _grid(images: np.ndarray, shape: tuple[int, int], columns: int, title: str, cmap: str,
          symmetric: bool) -> Figure:
    count = images.shape[0]
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(columns * 0.7 + (1.2 if symmetric else 0.4), rows * 0.7 + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    # One scale for every image (symmetric around 0 for weights), shown by a colour bar: images compare.
    limit = (float(np.abs(images).max()) or 1.0) if symmetric else 1.0
    shown = None
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= count:
            continue
        shown = ax.imshow(images[index].reshape(shape), cmap=cmap, vmin=-limit if symmetric else 0.0, vmax=limit,
                          interpolation="nearest")
    if symmetric and shown is not None:
        fig.colorbar(shown, ax=axes, shrink=0.8, label="weight")
    fig.suptitle(title)
    return fig


def plot_filters(model: EnergyModel, *, shape: tuple[int, int] | None = None, max_filters: int = 100,
                 columns: int = 10, pixels: Sequence[int] | None = None, n_pixels: int | None = None) -> Figure:
    """Each hidden unit's incoming weights ``W[:, j]`` as an image (red/blue: +/-, one scale for all,
    shown by a colour bar); for a convolutional model, each filter (its first channel).

    If the visible units show only some pixels of each image (constant pixels
    dropped before standardising), ``pixels`` lists them and ``n_pixels`` is the
    image size; the other pixels are drawn as zero weights.
    """
    weights = model.W.detach().float().cpu()
    if weights.ndim == 4:  # convolutional filters (n_filters, channels, kh, kw): first channel
        shape = shape or tuple(weights.shape[2:])
        weights = weights[:, 0].reshape(weights.shape[0], -1)
    else:
        weights = weights.T
    weights = weights.numpy()[:max_filters]
    if pixels is not None:
        full = np.zeros((weights.shape[0], n_pixels or max(pixels) + 1), dtype=weights.dtype)
        full[:, list(pixels)] = weights
        weights = full
    shape = shape or image_shape(weights.shape[1])
    return _grid(weights, shape, columns, f"filters (first {weights.shape[0]})", "RdBu_r",
                 symmetric=True)


def plot_images(images, *, shape: tuple[int, int] | None = None, columns: int = 10,
                title: str = "samples") -> Figure:
    """A grid of images in ``[0, 1]`` (samples, data or reconstructions), one per row of ``images``."""
    array = torch.as_tensor(images).detach().float().cpu().numpy()
    shape = shape or image_shape(array.shape[1])
    return _grid(array, shape, columns, title, "gray", symmetric=False)


def plot_reconstructions(model: EnergyModel, data, *, n: int = 10, shape: tuple[int, int] | None = None) -> Figure:
    """The first ``n`` rows of ``data`` (top row) above their mean-field reconstructions
    ``E[v | E[h | v]]`` (bottom row)."""
    shown = torch.as_tensor(data[:n]).to(device=model.device, dtype=model.dtype)
    with torch.no_grad():
        rebuilt = model.prob_v(model.prob_h(shown))
    images = torch.cat([shown, rebuilt]).float().cpu().numpy()
    return _grid(images, shape or image_shape(images.shape[1]), shown.shape[0],
                 "data (top) and mean-field reconstructions (bottom)", "gray", symmetric=False)


#: Panels of :func:`plot_curves` that draw several record keys: training and held-out rows.
CURVE_PANELS = {
    "recon_error": ("recon_error", "recon_error_valid"),
    "log_likelihood": ("log_likelihood_train", "log_likelihood_valid"),
}
#: Which rows each curve measured (the legend of a panel with several curves).
CURVE_ROWS = {"recon_error": "training rows", "recon_error_valid": "held-out rows",
              "log_likelihood_train": "training rows", "log_likelihood_valid": "held-out rows"}


#: Curves drawn with their running mean (the free-energy gap is measured on a few hundred rows: noisy).
SMOOTHED = ("free_energy_gap",)


def plot_curves(history, keys: Sequence[str | Sequence[str]] = ("recon_error", "free_energy_gap", "log_likelihood")
                ) -> Figure:
    """Learning curves: one panel per entry of ``keys`` that the history holds.

    An entry is a record key, a tuple of keys drawn in one panel, or the name of
    one of :data:`CURVE_PANELS`: ``"recon_error"`` and ``"log_likelihood"`` draw the
    training rows' curve and the held-out rows' one (where recorded), each
    labelled with its rows.  A log-likelihood names its method, and one estimated
    by AIS is drawn with a band of ``+-3`` standard errors of its ``log Z``
    (``log_likelihood_std``).
    """
    panels = [CURVE_PANELS.get(entry, (entry,)) if isinstance(entry, str) else tuple(entry) for entry in keys]
    panels = [[key for key in panel if any(value is not None for value in history[key])] for panel in panels]
    panels = [panel for panel in panels if panel]
    fig = Figure(figsize=(4.5 * max(len(panels), 1), 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=False):
        likelihood = all(key.startswith("log_likelihood") for key in panel)
        for key in panel:
            records = [r for r in history if r.get(key) is not None]
            epochs = np.array([r["epoch"] + 1 for r in records])
            values = np.array([r[key] for r in records], dtype=float)
            if key in SMOOTHED and len(values) >= 5:  # noisy: the raw values faint, their running mean on top
                window = max(2, len(values) // 10)
                ax.plot(epochs, values, alpha=0.3, label=f"{key.replace('_', ' ')} per epoch")
                smooth = np.convolve(values, np.ones(window) / window, mode="valid")
                line = ax.plot(epochs[window - 1:], smooth, label=f"mean of the last {window} epochs")[0]
                ax.legend(fontsize=8)
                continue
            line = ax.plot(epochs, values, marker="o", markersize=2, label=CURVE_ROWS.get(key, key))[0]
            std = np.array([r.get("log_likelihood_std") or 0.0 for r in records]) if likelihood else 0.0
            if np.any(std):
                ax.fill_between(epochs, values - 3 * std, values + 3 * std, alpha=0.25, color=line.get_color(),
                                label=f"±3σ of log Z ({CURVE_ROWS.get(key, key)})")
        if likelihood:
            methods = sorted({str(r.get("log_likelihood_method")) for r in history if r.get(panel[0]) is not None})
            label = f"log likelihood per example ({', '.join(methods)})"
        else:
            label = panel[0].replace("_", " ")
        if len(panel) > 1 or likelihood or panel[0] in CURVE_ROWS:
            ax.legend(fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    return fig


def plot_ais_weights(result) -> Figure:
    """AIS diagnostics for an :class:`~torchrbm.AISResult`: the spread of the chains' log-weights
    (relative to the largest) and the share of the total weight held by the heaviest chains.

    A few chains holding most of the weight (a small effective sample size) means
    the estimate rests on few chains: use more temperatures or chains.
    """
    log_w = result.log_weights.detach().double().cpu()
    relative = (log_w - log_w.max()).numpy()
    shares = np.sort(np.exp(relative))[::-1]
    shares = np.cumsum(shares) / shares.sum()
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    spread, share = fig.subplots(1, 2)
    spread.hist(relative, bins=min(50, max(5, len(relative) // 4)))
    spread.set_xlabel("log weight − largest log weight")
    spread.set_ylabel("chains")
    share.plot(np.arange(1, len(shares) + 1), shares, marker="o", markersize=2)
    share.set_xlabel("heaviest chains")
    share.set_ylabel("share of the total weight")
    share.set_ylim(0, 1.02)
    for ax in (spread, share):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.method.upper()}: log Z = {result.log_z:.3f} ± {result.log_z_std:.3f}, "
                 f"ESS {result.ess:.1f} of {result.n_chains} chains, {result.n_betas} temperatures")
    return fig


def plot_swap_rates(sampler) -> Figure:
    """The swap acceptance rate between neighbouring temperatures of a parallel-tempering
    sampler (:class:`~torchrbm.PT`), since its last reset."""
    rates = sampler.swap_rates.numpy()
    betas = sampler.betas.numpy()
    fig = Figure(figsize=(max(4.0, 0.5 * len(rates) + 2), 3.2), layout="constrained")
    ax = fig.subplots()
    ax.bar(np.arange(len(rates)), rates)
    ax.set_xticks(np.arange(len(rates)), [f"{betas[i]:.2f}↔{betas[i + 1]:.2f}" for i in range(len(rates))],
                  rotation=60, fontsize=7)
    ax.set_xlabel("neighbouring inverse temperatures")
    ax.set_ylabel("swap acceptance rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    return fig


def hidden_means(model: EnergyModel, data) -> np.ndarray:
    """``E[h | v]`` for every row of ``data``, as a NumPy array (examples x hidden units)."""
    rows = torch.as_tensor(data).to(device=model.device, dtype=model.dtype)
    with torch.no_grad():
        return model.prob_h(rows).float().cpu().numpy()


def plot_hidden_activity(model: EnergyModel, data, *, target: float | None = None) -> Figure:
    """Sparsity at a glance: the histogram of each hidden unit's mean activation over ``data``
    (with the sparsity ``target``, if any) and the histogram of all ``E[h_j | v]``."""
    means = hidden_means(model, data)
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    per_unit, every = fig.subplots(1, 2)
    per_unit.hist(means.mean(0), bins=30, range=(0, 1))
    if target is not None:
        per_unit.axvline(target, color="k", linestyle="--", label=f"target {target}")
        per_unit.legend(fontsize=8)
    per_unit.set_xlabel("mean activation of a hidden unit")
    per_unit.set_ylabel("hidden units")
    every.hist(means.ravel(), bins=50, range=(0, 1))
    every.set_xlabel("E[h_j | v] over examples and units")
    every.set_ylabel("count")
    for ax in (per_unit, every):
        ax.grid(alpha=0.3)
    fig.suptitle(f"hidden activity on {means.shape[0]} examples: mean {means.mean():.3f}")
    return fig


def plot_activation_map(model: EnergyModel, data, *, n: int = 100) -> Figure:
    """``E[h | v]`` of the first ``n`` rows of ``data`` as an image (examples x hidden units):
    units that never switch on, or are always on, show as dark or light columns."""
    means = hidden_means(model, data[:n])
    fig = Figure(figsize=(max(4.0, min(12.0, means.shape[1] / 40 + 2)), 3.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(means, aspect="auto", cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="E[h | v]")
    ax.set_xlabel("hidden unit")
    ax.set_ylabel("example")
    return fig
