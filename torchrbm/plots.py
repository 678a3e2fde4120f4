"""Figures: filters, samples, reconstructions, learning curves, AIS weights, PT swap rates, hidden activity,
sequence logos of a Potts RBM's hidden units, mutational scans, generative checks.

Each function returns a ``matplotlib.figure.Figure``; ``fig.savefig(path)`` writes
PNG or SVG.  Figures are built with the object-oriented API, so no display and no
global pyplot state are needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure

from ._utils.validation import as_sample_weight, check_positive_int
from .io import checked_scan
from .models.protocol import EnergyModel

if TYPE_CHECKING:
    import pandas as pd


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


#: Letter colours of :func:`weight_logos`: amino acids by chemistry (logomaker's "chemistry" scheme); other
#: symbols (the gap) grey.
LOGO_COLORS = {"GSTYC": "green", "QN": "purple", "KRH": "blue", "DE": "red", "AVLIPWFM": "black"}


def weight_norms(model: EnergyModel) -> torch.Tensor:
    """The norm of each hidden unit's incoming weights, ``||W_j|| = sqrt(sum_i sum_a W[i, a, j]^2)``
    (``sqrt(sum_i W[i, j]^2)`` for dense visible units), shape ``(n_hidden,)`` in float64."""
    weights = model.W.detach().double().cpu()
    if weights.shape[-1] != model.n_hidden:
        raise ValueError(f"weight_norms needs weights whose last axis is the {model.n_hidden} hidden units; "
                         f"found weights of shape {tuple(weights.shape)}")
    return weights.reshape(-1, model.n_hidden).norm(dim=0)


def _check_potts(model: EnergyModel, alphabet: str) -> None:
    """Refuse models without Potts visible units and alphabets without one distinct symbol per state."""
    if getattr(model.visible, "dense", True):
        raise ValueError(f"sequence logos need Potts visible units (weights of shape (L, q, n_hidden)); this model's "
                         f"visible units are {type(model.visible).__name__}")
    q = model.W.shape[1]
    if len(alphabet) != q or len(set(alphabet)) != q:
        raise ValueError(f"alphabet must have q = {q} distinct symbols, one per Potts state; found {len(alphabet)} "
                         f"symbols ({alphabet!r})")


def _check_unit(unit, n_hidden: int) -> int:
    """``unit`` as an ``int`` if it indexes one of ``n_hidden`` hidden units."""
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < n_hidden:
        raise ValueError(f"units must be hidden unit indices 0 to {n_hidden - 1}; found {unit!r}")
    return int(unit)


def logo_matrix(model: EnergyModel, unit: int, alphabet: str) -> pd.DataFrame:
    """Hidden unit ``unit``'s weights ``W[:, :, unit]`` as a table: one row per position ``1 .. L``
    (the index, named ``position``), one column per symbol of ``alphabet`` (state ``a`` is ``alphabet[a]``).

    Drawn by :func:`weight_logos`; a model of Potts visible units only.
    """
    import pandas as pd  # here, as logomaker below: only drawing logos loads them (the CLI imports this module)

    _check_potts(model, alphabet)
    unit = _check_unit(unit, model.n_hidden)
    weights = model.W.detach()[:, :, unit].double().cpu().numpy()
    return pd.DataFrame(weights, columns=list(alphabet), index=pd.RangeIndex(1, weights.shape[0] + 1, name="position"))


def weight_logos(model: EnergyModel, *, alphabet: str, units: Sequence[int] | None = None, n: int = 10,
                 data=None, sample_weight=None) -> Figure:
    """Sequence logos of a Potts RBM's hidden units (Tubiana, Cocco & Monasson, eLife 2019): one row per unit.

    Each logo draws ``W[i, a, j]`` at position ``i`` as the letter ``alphabet[a]`` of height
    ``|W[i, a, j]|``, above the axis where the weight is positive and below it where it is
    negative (:func:`logo_matrix` gives the table).  The units are ``units`` in that order, else
    the ``n`` units of largest :func:`weight_norms`, largest first; each logo is titled with the
    unit's index and norm.  With ``data`` (integer codes ``(N, L)``), a second panel per row is the
    histogram of the unit's input over the data,

        I_j(v) = b_j + sum_i W[i, v_i, j],

    each sequence counting for its ``sample_weight`` (e.g. the alignment's ``weights``) if given.
    """
    import logomaker

    _check_potts(model, alphabet)
    if units is None:
        units = torch.argsort(weight_norms(model), descending=True, stable=True)[:check_positive_int(n, "n")]
    units = [_check_unit(unit, model.n_hidden) for unit in (units.tolist() if torch.is_tensor(units) else units)]
    if not units:
        raise ValueError("units must name at least one hidden unit")
    if sample_weight is not None and data is None:
        raise ValueError("sample_weight weighs the rows of data: pass data too")
    inputs = row_weights = None
    if data is not None:
        with torch.no_grad():
            inputs = model.hidden_preactivation(data).detach().double().cpu().numpy()
        row_weights = None if sample_weight is None else as_sample_weight(sample_weight, inputs.shape[0]).numpy()
    norms = weight_norms(model)
    length = model.W.shape[0]
    fig = Figure(figsize=(max(6.0, 0.25 * length + 1.5) + (3.5 if data is not None else 0.0), 1.9 * len(units) + 0.3),
                 layout="constrained")
    axes = fig.subplots(len(units), 2 if data is not None else 1, squeeze=False,
                        width_ratios=[max(2.0, length / 12), 1.0] if data is not None else None)
    colors = {**{symbol: "gray" for symbol in alphabet}, **LOGO_COLORS}
    for row, unit in zip(axes, units, strict=True):
        logomaker.Logo(logo_matrix(model, unit, alphabet), ax=row[0], color_scheme=colors, flip_below=False)
        row[0].set_title(f"hidden unit {unit}: ||W|| = {float(norms[unit]):.3g}", fontsize=9)
        row[0].set_ylabel("weight")
        if inputs is not None:
            row[1].hist(inputs[:, unit], bins=30, weights=row_weights)
            row[1].set_xlabel(f"input I_{unit}(v)")
            row[1].set_ylabel("sequences" if row_weights is None else "weighted sequences")
            row[1].grid(alpha=0.3)
    axes[-1][0].set_xlabel("position")
    return fig


def plot_statistics(comparison, *, max_points: int = 200_000) -> Figure:
    """Generative checks (:func:`~torchrbm.compare_statistics`): the samples' single-site frequencies
    ``f_i(a)`` (left) and pairwise connected correlations ``C_ij(a, b)``, ``i < j`` (right), each against the
    reference rows', with the diagonal and Pearson's ``r`` in the titles.  At most ``max_points`` correlations
    are drawn (those of largest magnitude in either set, the rest being near zero); ``r`` is over all of them."""
    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    panels = (("single-site frequencies", comparison.site_frequencies, comparison.site_r),
              ("connected correlations (i < j)", comparison.correlations, comparison.correlation_r))
    for ax, (title, (sampled, reference), r) in zip(fig.subplots(1, 2), panels, strict=True):
        if sampled.numel() > max_points:
            keep = torch.maximum(sampled.abs(), reference.abs()).topk(max_points).indices
            sampled, reference = sampled[keep], reference[keep]
        x, y = reference.cpu().numpy(), sampled.cpu().numpy()
        ax.scatter(x, y, s=2, alpha=0.3, rasterized=True)
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8)
        ax.set(title=f"{title}: r = {r:.3f}", xlabel=f"reference ({comparison.n_reference} rows)",
               ylabel=f"samples ({comparison.n_samples})")
    return fig


#: The colour bar's label of :func:`plot_mutational_scan`.
SCAN_LABEL = "log p(mutant) − log p(wild type)"


def plot_mutational_scan(scan, alphabet: str, sequence=None, *, title: str | None = None) -> Figure:
    """A mutational scan as a heat map: positions ``1 .. L`` across, the states (symbols of ``alphabet``)
    down, each cell coloured by its score ``scan[i, a] = log p(x^{i -> a}) - log p(x)`` on a diverging scale
    centred at 0 (red: the model prefers the mutant, blue: the wild type).

    ``scan`` is :func:`~torchrbm.mutational_scan`'s ``(L, q)`` table and ``alphabet`` its ``q`` symbols (a
    name of :data:`~torchrbm.datasets.ALPHABETS` or a string).  With ``sequence``, the scanned sequence (its
    letters or codes), each position's wild-type state is marked with a dot and the positions are labelled
    with their wild-type letter (``W12``).
    """
    table, symbols, codes = checked_scan(scan, alphabet, sequence)
    table = table.numpy()
    length, q = table.shape
    fig = Figure(figsize=(max(5.5, 0.22 * length + 2.5), max(2.5, 0.22 * q + 1.2)), layout="constrained")
    ax = fig.subplots()
    limit = float(np.abs(table).max()) or 1.0
    image = ax.imshow(table.T, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, label=SCAN_LABEL)
    positions = np.arange(length)
    labels = ([str(i + 1) for i in positions] if codes is None
              else [f"{symbols[c]}{i + 1}" for i, c in enumerate(codes.tolist())])
    ax.set_xticks(positions, labels, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(q), list(symbols), fontsize=7)
    if codes is not None:
        ax.scatter(positions, codes.numpy(), s=8, color="black", label="wild type")
    ax.set_xlabel("position" if codes is None else "position (wild type)")
    ax.set_ylabel("mutant state")
    ax.set_title(title or f"mutational scan: {length} positions x {q} states", fontsize=10)
    return fig
