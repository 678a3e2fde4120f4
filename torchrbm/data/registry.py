"""Data sets by name, and files by path: :func:`load`."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .._utils.validation import check_positive_int
from .files import FILE_SUFFIXES, read_path
from .mnist import binarized_mnist, fashion_mnist, mnist
from .preprocessing import binarize
from .synthetic import bars_and_stripes, digits, shifter

DATASETS = ("digits", "bas", "shifter", "mnist", "fashion-mnist", "binarized-mnist")


def load(name: str, *, split: str = "train", data_dir=None, binarize_method: str | None = "default",
         threshold: float = 0.5, seed: int = 0, max_rows: int | None = None, **file_options) -> Tensor:
    """A data set by name (one of :data:`DATASETS`) or a path to a ``.npy``/``.npz``/``.csv`` file
    (``FILE.npz:NAME`` for one array of an archive that holds several), read by :func:`read_path`
    with ``file_options`` (a CSV file's ``header`` and ``delimiter``).

    ``binarize_method="default"`` binarises ``digits`` by threshold and leaves
    everything else as it is.  Only the MNIST family has splits; the other data
    sets and files are one set of rows (``split="train"``).  ``max_rows``: only
    the first rows (of the split), to try a data set quickly.
    """
    if max_rows is not None:
        max_rows = check_positive_int(max_rows, "max_rows")
    rows = _load(name, split=split, data_dir=data_dir, binarize_method=binarize_method, threshold=threshold,
                 seed=seed, max_rows=max_rows, **file_options)
    return rows if max_rows is None else rows[:max_rows]


def _load(name: str, *, split: str, data_dir, binarize_method: str | None, threshold: float, seed: int,
          max_rows: int | None, **file_options) -> Tensor:
    options = {"threshold": threshold, "seed": seed}
    method = None if binarize_method == "default" else binarize_method
    key = str(name).lower().replace("_", "-")
    if split != "train" and key not in ("mnist", "fashion-mnist", "binarized-mnist"):
        raise ValueError(f"{name} has no {split!r} split: only mnist, fashion-mnist and binarized-mnist have "
                         f"splits; hold rows out of it yourself")
    if key == "digits":
        return digits(binarize_method="threshold" if binarize_method == "default" else method, **options)
    if key == "bas":
        return bars_and_stripes(4)
    if key == "shifter":
        return shifter(8)[0]
    if key in ("mnist", "fashion-mnist"):
        loader = mnist if key == "mnist" else fashion_mnist
        return loader(split, data_dir=data_dir, binarize_method=method, **options)
    if key == "binarized-mnist":
        return binarized_mnist(split, data_dir=data_dir)
    if Path(str(name).rsplit(":", 1)[0]).suffix.lower() in FILE_SUFFIXES or Path(name).exists():
        x = read_path(name, max_rows=max_rows, **file_options)
        return binarize(x, method, **options) if method else x
    raise ValueError(
        f"unknown data set {name!r}; known: {', '.join(DATASETS)}, or a path to a .npy, .npz or .csv file"
    )
