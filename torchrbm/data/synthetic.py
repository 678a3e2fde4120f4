"""Synthetic and small built-in data sets: bars and stripes, the shifter ensemble, scikit-learn's
8x8 digits, and sequences of moving bars (with the frame/context windows of a conditional RBM)."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor

from .._utils.validation import as_data_tensor, check_positive_int
from .preprocessing import binarize


def bars_and_stripes(n: int = 4) -> Tensor:
    """All ``2 * 2**n`` bars-and-stripes patterns on an ``n x n`` grid (MacKay 2003).

    Each pattern sets whole rows (stripes) or whole columns (bars); the empty and
    full images appear once as each, so the 32 patterns of the 4x4 case have a
    best possible mean log-likelihood of ``-(28 log 32 + 4 log 16) / 32 = -3.379``.
    """
    n = check_positive_int(n, "n")
    choices = torch.tensor(list(itertools.product((0, 1), repeat=n)), dtype=torch.uint8)
    stripes = choices[:, :, None].expand(-1, n, n)
    bars = choices[:, None, :].expand(-1, n, n)
    return torch.cat([stripes, bars]).reshape(-1, n * n).contiguous()


def shifter(n: int = 8) -> tuple[Tensor, Tensor]:
    """The labelled shifter ensemble (Hinton & Sejnowski 1986), all ``3 * 2**n`` cases.

    Each row is ``[x, y, label]``: ``x`` a binary vector of ``n`` bits, ``y`` its
    cyclic shift by one place left, none or right, and ``label`` that shift as a
    one-hot code of 3 bits; ``2n + 3`` columns in all (19 for ``n = 8``).
    Returns ``(data, shift)`` with ``shift`` in ``{0, 1, 2}`` for left, none, right.
    """
    n = check_positive_int(n, "n")
    x = torch.tensor(list(itertools.product((0, 1), repeat=n)), dtype=torch.uint8)
    rows, labels = [], []
    for shift, direction in enumerate((-1, 0, 1)):
        one_hot = torch.zeros(x.shape[0], 3, dtype=torch.uint8)
        one_hot[:, shift] = 1
        rows.append(torch.cat([x, torch.roll(x, direction, dims=1), one_hot], dim=1))
        labels.append(torch.full((x.shape[0],), shift, dtype=torch.int64))
    return torch.cat(rows), torch.cat(labels)


def digits(*, binarize_method: str | None = "threshold", threshold: float = 0.5, seed: int = 0,
           return_labels: bool = False):
    """scikit-learn's 8x8 digits (1797 images, 64 pixels), scaled to ``[0, 1]``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = binarize(torch.from_numpy(bunch.data / 16.0).float(), binarize_method, threshold=threshold, seed=seed)
    return (x, torch.from_numpy(bunch.target)) if return_labels else x


def sequence_windows(sequences, order: int) -> tuple[Tensor, Tensor]:
    """Frames and their contexts for a conditional RBM.

    ``sequences`` is one ``(T, d)`` array or a list of them.  For every frame
    ``x_t`` with ``t >= order`` the context is the ``order`` frames before it, most
    recent first: ``[x_{t-1}, ..., x_{t-order}]`` as one row of ``order * d`` values.
    Returns ``(frames, context)`` with one row per such frame.
    """
    order = check_positive_int(order, "order")
    if isinstance(sequences, (Tensor, np.ndarray)) and np.ndim(sequences) == 2:
        sequences = [sequences]
    frames, contexts = [], []
    for index, sequence in enumerate(sequences):
        x = as_data_tensor(sequence, name=f"sequence {index}")
        if x.shape[0] <= order:
            raise ValueError(f"sequence {index} has {x.shape[0]} frames; it needs more than order={order}")
        frames.append(x[order:])
        contexts.append(torch.cat([x[order - lag : x.shape[0] - lag] for lag in range(1, order + 1)], 1))
    widths = {f.shape[1] for f in frames}
    if len(widths) != 1:
        raise ValueError(f"all sequences must have the same number of columns; found {sorted(widths)}")
    return torch.cat(frames), torch.cat(contexts)


def moving_bars(n_sequences: int = 50, length: int = 30, width: int = 12, bar: int = 3,
                noise: float = 0.02, seed: int = 0) -> list[Tensor]:
    """Binary sequences of a bar of ``bar`` pixels moving round a ring of ``width`` pixels.

    Each sequence starts at a random place and moves one pixel per frame in a
    random but fixed direction; each pixel is then flipped with probability
    ``noise``.  The direction shows only over two frames, so predicting the next
    frame needs a context of at least two.  Returns ``n_sequences`` ``(length, width)``
    ``uint8`` tensors.
    """
    generator = torch.Generator().manual_seed(seed)
    start = torch.randint(width, (n_sequences, 1), generator=generator)
    direction = torch.randint(2, (n_sequences, 1), generator=generator) * 2 - 1
    position = start + direction * torch.arange(length)  # (sequences, length)
    pixels = (torch.arange(width) - position[..., None]) % width < bar
    flips = torch.rand(pixels.shape, generator=generator) < noise
    return list((pixels ^ flips).to(torch.uint8))
