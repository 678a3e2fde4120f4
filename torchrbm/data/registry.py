"""Data sets by name, as records of how to load them and which of their rows train, validate and
test a model; files by path.

:func:`load` reads one split of a data set or a file, :func:`split_rows` the rows of a training
run: its training rows, its validation rows (the data set's own validation split, else a
fraction of the training rows drawn with the run's seed) and the test split, which only
evaluation measures.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .._utils.text import listed
from .._utils.validation import check_positive_int
from .alignment_files import ALIGNMENT_SUFFIXES
from .alignments import ALPHABETS, Alignment, alignment
from .files import FILE_SUFFIXES, read_path
from .identity import split_by_identity
from .mnist import binarized_mnist, fashion_mnist, mnist
from .preprocessing import binarize
from .proteins import protein_family
from .synthetic import bars_and_stripes, digits, shifter

#: Fraction of the training rows held out for validation, for data sets without a validation split.
DEFAULT_HOLDOUT = 0.1


@dataclass(frozen=True)
class Reading:
    """How to read rows: the directory of the real data sets; the binarisation of grey levels
    (``binarize_method`` ``"threshold"``, ``"stochastic"`` or ``None``, with its ``threshold`` and
    ``seed``); and for a file, its first ``max_rows`` rows and a CSV file's ``header`` and
    ``delimiter`` (see :func:`~torchrbm.datasets.load_file`)."""

    data_dir: str | os.PathLike | None = None
    binarize_method: str | None = None
    threshold: float = 0.5
    seed: int = 0
    max_rows: int | None = None
    header: bool | None = None
    delimiter: str | None = ","


@dataclass(frozen=True)
class DataSet:
    """A data set: its name, what it is, and how its rows are read and used.

    ``loader(split, reading)`` returns the rows of one of its ``splits``.  ``validation`` is the
    name of its own validation split, or the fraction of its training rows held out for
    validation, drawn with the run's seed (``0``: none).  ``binarize`` is the binarisation that
    ``binarize_method="default"`` gives its grey levels (``None``: none).  ``alphabet``: for
    categorical rows (integer codes, one per position), their symbols, ``q = len(alphabet)`` of
    them (Potts units model such rows); ``None`` for numbers.  ``holdout_identity``: rows held
    out for validation are whole clusters of rows this identical or more
    (:func:`~torchrbm.data.identity.split_by_identity`), so that none has a near-copy among the
    training rows; ``None``: they are drawn one by one at random.
    """

    name: str
    description: str
    loader: Callable[[str, Reading], Tensor]
    splits: tuple[str, ...] = ("train",)
    validation: str | float = DEFAULT_HOLDOUT
    binarize: str | None = None
    alphabet: str | None = None
    holdout_identity: float | None = None

    @property
    def has_test_split(self) -> bool:
        """Whether it has a test split (which training never reads and evaluation measures)."""
        return "test" in self.splits


def _images(loader: Callable[..., Tensor]) -> Callable[[str, Reading], Tensor]:
    """A record's loader for grey-level images: ``loader`` with the data directory and binarisation of a reading."""

    def load_split(split: str, reading: Reading) -> Tensor:
        return loader(split, data_dir=reading.data_dir, binarize_method=reading.binarize_method,
                      threshold=reading.threshold, seed=reading.seed)

    return load_split


def _read_file(path: str, split: str, reading: Reading) -> Tensor:
    """The rows of the file at ``path`` (one split, ``"train"``), binarised if the reading asks."""
    x = read_path(path, max_rows=reading.max_rows, header=reading.header, delimiter=reading.delimiter)
    method = reading.binarize_method
    return binarize(x, method, threshold=reading.threshold, seed=reading.seed) if method else x


def _family(name: str) -> Callable[[str, Reading], Tensor]:
    """A record's loader for a protein family: its ``(N, L)`` codes, unweighted (binarising them is refused)."""
    return _categorical(name, lambda reading: protein_family(name, data_dir=reading.data_dir, weights=False))


def _aligned(path: str) -> Callable[[str, Reading], Tensor]:
    """A record's loader for an alignment file: its ``(N, L)`` codes, unweighted (binarising them is refused)."""
    return _categorical(path, lambda reading: alignment(path, weights=False))


def _categorical(name: str, read: Callable[[Reading], Alignment]) -> Callable[[str, Reading], Tensor]:
    def load_split(split: str, reading: Reading) -> Tensor:
        if reading.binarize_method is not None:
            raise ValueError(f"{name} holds categorical codes (20 amino acids and the gap): binarisation does not "
                             "apply; model them with Potts units")
        return read(reading).codes

    return load_split


#: Every data set by name.
REGISTRY = {record.name: record for record in (
    DataSet("digits", "scikit-learn's 8x8 handwritten digits: 1797 rows of 64 grey levels",
            lambda split, reading: digits(binarize_method=reading.binarize_method, threshold=reading.threshold,
                                          seed=reading.seed),
            binarize="threshold"),
    DataSet("bas", "bars and stripes on a 4x4 grid: all 32 patterns of 16 bits",
            lambda split, reading: bars_and_stripes(4), validation=0.0),
    DataSet("shifter", "the shifter ensemble of 8 bits: all 768 cases of 19 bits",
            lambda split, reading: shifter(8)[0], validation=0.0),
    DataSet("mnist", "MNIST handwritten digits: 60000 training and 10000 test images of 784 grey levels",
            _images(mnist), splits=("train", "test")),
    DataSet("fashion-mnist", "Fashion-MNIST: 60000 training and 10000 test images of 784 grey levels",
            _images(fashion_mnist), splits=("train", "test")),
    DataSet("binarized-mnist", "Larochelle & Murray's binarised MNIST: 50000 training, 10000 validation and "
            "10000 test rows of 784 bits", lambda split, reading: binarized_mnist(split, data_dir=reading.data_dir),
            splits=("train", "valid", "test"), validation="valid"),
    DataSet("kunitz", "Kunitz/BPTI domain (Pfam PF00014): 11819 aligned sequences of 53 positions, codes of 20 amino "
            "acids and the gap", _family("kunitz"), alphabet=ALPHABETS["protein"], holdout_identity=0.8),
    DataSet("ww", "WW domain (Pfam PF00397): 17233 aligned sequences of 31 positions, codes of 20 amino acids and "
            "the gap", _family("ww"), alphabet=ALPHABETS["protein"], holdout_identity=0.8),
    DataSet("lattice-proteins", "lattice proteins folding into one 3x3x3 structure: 46265 sequences of 27 amino "
            "acids, coded as the protein families (no gaps)", _family("lattice-proteins"),
            alphabet=ALPHABETS["protein"], holdout_identity=0.8),
)}

#: The data sets' names.
DATASETS = tuple(REGISTRY)


def canonical_name(name: str | os.PathLike) -> str:
    """A data set's name as the registry spells it: lower case, ``-`` for ``_`` (``Fashion_MNIST`` is
    ``fashion-mnist``)."""
    return str(name).lower().replace("_", "-")


def find(name: str | os.PathLike) -> DataSet | None:
    """The record of the data set called ``name`` (in any case, ``_`` or ``-``), else ``None``."""
    return REGISTRY.get(canonical_name(name))


def data_set(name: str | os.PathLike) -> DataSet:
    """The record of a data set by name, or one for a ``.npy``/``.npz``/``.csv`` file (``FILE.npz:NAME``
    for one array of an archive that holds several): one split, :data:`DEFAULT_HOLDOUT` of it for validation;
    or one for an alignment (aligned FASTA, A2M/A3M, Stockholm) of protein sequences: their codes, with
    validation rows held out as whole clusters at 80 % identity."""
    record = find(name)
    if record is not None:
        return record
    if Path(name).suffix.lower() in ALIGNMENT_SUFFIXES:
        return DataSet(str(name), "aligned sequences, codes of 20 amino acids and the gap",
                       _aligned(str(name)), alphabet=ALPHABETS["protein"], holdout_identity=0.8)
    if Path(str(name).rsplit(":", 1)[0]).suffix.lower() in FILE_SUFFIXES or Path(name).exists():
        return DataSet(str(name), "rows of a .npy, .npz or .csv file", functools.partial(_read_file, str(name)))
    raise ValueError(
        f"unknown data set {name!r}; known: {', '.join(DATASETS)}, or a path to a .npy, .npz or .csv file"
    )


def alphabet_of(name: str | os.PathLike) -> str | None:
    """The symbols of a data set (by name, or an alignment file) of categorical rows; ``None`` for any
    other data (numbers, a name of no data set)."""
    record = find(name)
    if record is None and Path(name).suffix.lower() in ALIGNMENT_SUFFIXES:
        record = data_set(name)
    return None if record is None else record.alphabet


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
    record = data_set(name)
    if split not in record.splits:
        if len(record.splits) > 1:
            raise ValueError(f"unknown split {split!r} for {record.name}; use "
                             f"{listed([repr(known) for known in record.splits], 'or')}")
        with_splits = [other.name for other in REGISTRY.values() if len(other.splits) > 1]
        raise ValueError(f"{name} has no {split!r} split: only {listed(with_splits)} have splits; hold rows out of "
                         "it yourself")
    method = record.binarize if binarize_method == "default" else binarize_method
    reading = Reading(data_dir=data_dir, binarize_method=method, threshold=threshold, seed=seed, max_rows=max_rows,
                      **file_options)
    rows = record.loader(split, reading)
    return rows if max_rows is None else rows[:max_rows]


def holdout_indices(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices ``(kept, held_out)`` of ``n`` rows of which ``count = round(fraction * n)`` are held
    out, drawn at random with ``seed``: ``order[count:]`` and ``order[:count]`` of a random permutation."""
    count = int(round(fraction * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[count:], order[:count]


def _hold_out(record: DataSet, rows: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor, str]:
    """Indices ``(kept, held_out)`` of about ``fraction`` of ``rows`` held out with ``seed`` as the record
    says (:func:`holdout_indices`, or whole clusters of close rows), and how they were drawn."""
    identity = record.holdout_identity
    if identity is None or round(fraction * rows.shape[0]) == 0:
        return (*holdout_indices(rows.shape[0], fraction, seed), f"drawn with seed {seed}")
    kept, held = split_by_identity(rows, identity, fraction, seed)
    return kept, held, f"whole clusters at {identity:.0%} identity, drawn with seed {seed}"


@dataclass(frozen=True)
class Splits:
    """A training run's rows: ``train``; ``validation`` (``None``: none held out), with
    ``validation_rows`` saying what they are; and ``test`` (``None``: no test split, or not asked for)."""

    train: Tensor
    validation: Tensor | None
    test: Tensor | None
    validation_rows: str


def split_rows(name: str, seed: int = 0, *, holdout: float | None = None, test: bool = True,
               check: Callable[[Tensor], None] | None = None, **options) -> Splits:
    """The training, validation and test rows of the data set (or file) ``name`` for a run with ``seed``.

    The validation rows are the data set's own validation split, else ``round(f * n)`` of its
    ``n`` training rows (at most that many whole clusters of close rows, for a record with a
    ``holdout_identity``) drawn at random with ``seed`` and left out of the training rows, where
    ``f`` is ``holdout``, by default the record's fraction (:data:`DEFAULT_HOLDOUT` for most);
    a given ``holdout`` draws them even where there is a validation split.  The test split
    (``test=False``: not read) is never among them.  ``check(rows)`` sees every split read, whole,
    before any rows are held out; ``options`` are :func:`load`'s.
    """
    record = data_set(name)
    validation = record.validation if holdout is None else holdout

    def read(split: str) -> Tensor:
        rows = load(name, split=split, seed=seed, **options)
        if check is not None:
            check(rows)
        return rows

    train = read("train")
    if isinstance(validation, str):
        held_out, about = read(validation), f"its {validation} split"
    else:
        kept, held, drawn = _hold_out(record, train, validation, seed)
        if held.numel() == 0:
            held_out, about = None, "none"
        else:
            train, held_out = train[kept], train[held]
            about = f"{held.numel()} rows ({validation:g} of the training rows, {drawn})"
    return Splits(train, held_out, read("test") if test and record.has_test_split else None, about)
