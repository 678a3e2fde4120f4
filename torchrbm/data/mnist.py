"""The MNIST family from the data directory (downloaded when missing): MNIST, Fashion-MNIST and
Larochelle & Murray's binarised MNIST."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from .downloads import BINARIZED_MNIST_CONTENT_SHA256, fetch
from .files import read_idx
from .preprocessing import binarize


def _idx_pair(folder: str, split: str, root) -> tuple[np.ndarray, np.ndarray]:
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"unknown split {split!r} for {folder}; use 'train' or 'test'")
    images = read_idx(fetch(f"{folder}/{prefix}-images-idx3-ubyte.gz", root))
    labels = read_idx(fetch(f"{folder}/{prefix}-labels-idx1-ubyte.gz", root))
    return images.reshape(images.shape[0], -1), labels


def _idx_loader(folder: str, title: str) -> Callable:
    def loader(split: str = "train", *, data_dir=None, binarize_method: str | None = None,
               threshold: float = 0.5, seed: int = 0, return_labels: bool = False):
        images, labels = _idx_pair(folder, split, data_dir)
        x = binarize(torch.from_numpy(images.astype(np.float32) / 255.0), binarize_method,
                     threshold=threshold, seed=seed)
        return (x, torch.from_numpy(labels.astype(np.int64))) if return_labels else x

    loader.__name__ = folder
    loader.__doc__ = (
        f"{title}: 28x28 images as 784 grey levels in [0, 1] (``split`` 'train' or 'test').\n\n"
        "``binarize_method`` is 'threshold', 'stochastic' or None; with ``return_labels`` the\n"
        "result is ``(images, labels)``."
    )
    return loader


mnist = _idx_loader("mnist", "MNIST handwritten digits (LeCun et al. 1998)")
fashion_mnist = _idx_loader("fashion_mnist", "Fashion-MNIST (Xiao et al. 2017)")


def binarized_mnist(split: str = "train", *, data_dir=None) -> Tensor:
    """Larochelle & Murray's (2011) fixed binarisation of MNIST: train 50000, valid 10000,
    test 10000 rows of 784 ``uint8`` bits."""
    if split not in BINARIZED_MNIST_CONTENT_SHA256:
        raise ValueError(f"unknown split {split!r} for binarized MNIST; use 'train', 'valid' or 'test'")
    with np.load(fetch("binarized_mnist/binarized_mnist.npz", data_dir)) as archive:
        return torch.from_numpy(archive[split].astype(np.uint8))
