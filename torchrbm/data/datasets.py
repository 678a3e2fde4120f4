"""Data sets: synthetic benchmarks, the MNIST family and user files; the public names of
:mod:`torchrbm.data`'s modules, gathered (:mod:`torchrbm.datasets` is their public path).

Every loader returns a 2-D tensor with one example per row: ``uint8`` 0/1 for
binary data (compact; training converts batch by batch) and ``float32`` in
``[0, 1]`` for grey levels.

- :mod:`~torchrbm.data.downloads`: the data directory, and verified downloads of real data sets
- :mod:`~torchrbm.data.files`: MNIST's IDX files and the user's ``.npy``, ``.npz`` and ``.csv`` files
- :mod:`~torchrbm.data.synthetic`: bars and stripes, shifter, digits, moving bars, sequence windows
- :mod:`~torchrbm.data.mnist`: MNIST, Fashion-MNIST, binarised MNIST
- :mod:`~torchrbm.data.preprocessing`: binarisation, standardisation
- :mod:`~torchrbm.data.registry`: data sets by name, as records; a run's training, validation and test rows
"""

from .downloads import MIRRORS, SHA256, data_dir, download, fetch
from .files import FILE_SUFFIXES, load_file, read_idx, read_path
from .mnist import binarized_mnist, fashion_mnist, mnist
from .preprocessing import BINARIZE, Standardizer, binarize, standardize
from .registry import (
    DATASETS,
    DEFAULT_HOLDOUT,
    REGISTRY,
    DataSet,
    Reading,
    Splits,
    data_set,
    load,
    split_rows,
)
from .synthetic import bars_and_stripes, digits, moving_bars, sequence_windows, shifter

__all__ = [
    "DATASETS",
    "SHA256",
    "MIRRORS",
    "BINARIZE",
    "FILE_SUFFIXES",
    "data_dir",
    "download",
    "fetch",
    "read_idx",
    "binarize",
    "Standardizer",
    "standardize",
    "bars_and_stripes",
    "shifter",
    "digits",
    "sequence_windows",
    "moving_bars",
    "mnist",
    "fashion_mnist",
    "binarized_mnist",
    "load_file",
    "read_path",
    "load",
    "DataSet",
    "Reading",
    "REGISTRY",
    "DEFAULT_HOLDOUT",
    "data_set",
    "Splits",
    "split_rows",
]
