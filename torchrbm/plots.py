"""Figures: filters, sample grids and learning curves (matplotlib, headless-safe).

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


def image_shape(n_pixels: int) -> tuple[int, int]:
    """``(side, side)`` for a square number of pixels, else one row ``(1, n)``."""
    side = math.isqrt(n_pixels)
    return (side, side) if side * side == n_pixels else (1, n_pixels)


def _grid(images: np.ndarray, shape: tuple[int, int], columns: int, title: str, cmap: str,
          symmetric: bool) -> Figure:
    count = images.shape[0]
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(columns * 0.7 + 0.4, rows * 0.7 + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= count:
            continue
        image = images[index].reshape(shape)
        if symmetric:
            limit = float(np.abs(image).max()) or 1.0
            ax.imshow(image, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        else:
            ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.suptitle(title)
    return fig


def plot_filters(model, *, shape: tuple[int, int] | None = None, max_filters: int = 100,
                 columns: int = 10, pixels: Sequence[int] | None = None, n_pixels: int | None = None) -> Figure:
    """Each hidden unit's incoming weights ``W[:, j]`` as an image (red/blue: +/-);
    for a convolutional model, each filter (its first channel).

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


def plot_curves(history, keys: Sequence[str] = ("recon_error", "free_energy_gap", "log_likelihood")
                ) -> Figure:
    """Learning curves: one panel per metric in ``keys`` that the history holds."""
    present = [key for key in keys if any(value is not None for value in history[key])]
    fig = Figure(figsize=(4.5 * max(len(present), 1), 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(present), 1), squeeze=False)[0]
    for ax, key in zip(axes, present, strict=False):
        points = [(r["epoch"] + 1, r[key]) for r in history if r.get(key) is not None]
        ax.plot(*zip(*points, strict=True), marker="o", markersize=2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key.replace("_", " "))
        ax.grid(alpha=0.3)
    return fig
