"""Data sets: synthetic benchmarks, the MNIST family and user files; the public names of
:mod:`torchrbm.data`'s modules, gathered (:mod:`torchrbm.datasets` is their public path).

Every loader returns a 2-D tensor with one example per row: ``uint8`` 0/1 for
binary data (compact; training converts batch by batch), ``float32`` in
``[0, 1]`` for grey levels and ``uint8`` codes for categorical sequences.

- :mod:`~torchrbm.data.downloads`: the data directory, and verified downloads of real data sets
- :mod:`~torchrbm.data.files`: MNIST's IDX files and the user's ``.npy``, ``.npz`` and ``.csv`` files
- :mod:`~torchrbm.data.synthetic`: bars and stripes, shifter, digits, moving bars, sequence windows
- :mod:`~torchrbm.data.mnist`: MNIST, Fashion-MNIST, binarised MNIST
- :mod:`~torchrbm.data.preprocessing`: binarisation, standardisation
- :mod:`~torchrbm.data.alignments`: multiple sequence alignments as integer codes, with weights
  (files read by :mod:`~torchrbm.data.alignment_files`)
- :mod:`~torchrbm.data.identity`: sequence identity: redundancy weights, nearest relatives, a split by identity
- :mod:`~torchrbm.data.proteins`: the Kunitz and WW families and the lattice proteins with their fitness
- :mod:`~torchrbm.data.registry`: data sets by name, as records; a run's training, validation and test rows
"""

from .alignments import ALPHABETS, Alignment, alignment, encode_sequence
from .downloads import MIRRORS, SHA256, data_dir, download, fetch
from .files import FILE_SUFFIXES, load_file, read_idx, read_path
from .identity import identity_clusters, max_identity, sequence_weights, split_by_identity
from .mnist import binarized_mnist, fashion_mnist, mnist
from .preprocessing import BINARIZE, Standardizer, binarize, standardize
from .proteins import lattice_proteins_pnat, protein_family
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
    "ALPHABETS",
    "Alignment",
    "alignment",
    "encode_sequence",
    "sequence_weights",
    "max_identity",
    "identity_clusters",
    "split_by_identity",
    "protein_family",
    "lattice_proteins_pnat",
]
