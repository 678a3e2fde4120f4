"""Reading ``--data``: the rows a run trains and validates on, and those ``evaluate`` and ``inpaint`` measure.

The data sets' records (:mod:`torchrbm.data.registry`) say how each is split; the visible units
say how raw data are prepared for them (:attr:`~torchrbm.units.Units.data_preparation`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .._utils.text import listed
from ..data import datasets
from ..data.registry import DEFAULT_HOLDOUT, REGISTRY, alphabet_of, canonical_name, find, holdout_indices
from ..runs import absolute_data
from ..units import Units

#: Data sets with a test split (which ``evaluate`` and ``inpaint`` measure by default).
WITH_TEST_SPLIT = tuple(record.name for record in REGISTRY.values() if record.has_test_split)

#: --delimiter's names of characters hard to give on a command line (whitespace: runs of spaces and tabs).
_DELIMITERS = {"tab": "\t", "\\t": "\t", "whitespace": None}

#: How the results name the weights of aligned sequences.
SEQUENCE_WEIGHTS = "1 / (neighbours at 80 % identity or more), within each set"


def holdout_defaults() -> str:
    """--holdout's defaults as the data sets' records set them: the default fraction, the data sets
    that validate on a split of their own, and those that hold no rows out."""
    own = [f"{record.name}: its {record.validation} split" for record in REGISTRY.values()
           if isinstance(record.validation, str)]
    none = "/".join(record.name for record in REGISTRY.values() if record.validation == 0)
    return "; ".join([f"{DEFAULT_HOLDOUT:g}", *own, f"none for {none}"])


@dataclasses.dataclass(frozen=True)
class Rows:
    """A run's rows: ``train``, ``held_out`` (``None``: none) and what the held-out rows are; for a
    conditional model, the context of each (the previous frames)."""

    train: torch.Tensor
    held_out: torch.Tensor | None
    held_out_rows: str
    context: torch.Tensor | None = None
    held_context: torch.Tensor | None = None
    #: Sample weights of aligned sequences (:func:`~torchrbm.datasets.sequence_weights`), each set's computed
    #: within that set; ``None`` for other data.
    train_weight: torch.Tensor | None = None
    held_weight: torch.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How to read ``--data``: ``--data-dir``, ``--binarize``, a file's first ``--max-rows`` rows and a .csv
    file's ``--csv-header`` and ``--delimiter``; the run's ``--seed`` and ``--holdout``."""

    data: str = "digits"
    data_dir: str | None = None
    binarize: str = "default"
    csv_header: str | None = None
    delimiter: str | None = None
    max_rows: int | None = None
    seed: int = 0
    holdout: float | None = None

    def reading(self) -> dict[str, Any]:
        """:func:`~torchrbm.datasets.load`'s options for a file: its first rows, header and delimiter."""
        delimiter = "," if self.delimiter is None else _DELIMITERS.get(self.delimiter, self.delimiter)
        return {"max_rows": self.max_rows, "header": None if self.csv_header is None else self.csv_header == "yes",
                "delimiter": delimiter}

    def load_options(self, visible: Units) -> dict[str, Any]:
        """:func:`~torchrbm.datasets.load`'s options for rows of ``visible`` units: --data-dir, --binarize
        (none by default for units that standardise their data, which model the grey levels) and :meth:`reading`."""
        method = None if self.binarize == "none" else self.binarize
        if method == "default" and visible.data_preparation == "standardize":
            method = None
        return {"data_dir": self.data_dir, "binarize_method": method, **self.reading()}

    def check(self, rows: torch.Tensor, visible: Units) -> None:
        """Categorical rows only for units that take codes; the binary units' own check of ``rows``, with the
        command line's ways out."""
        alphabet = alphabet_of(self.data)
        if alphabet is not None and visible.dense:
            raise ValueError(f"{self.data} holds sequences of {len(alphabet)} symbols (integer codes): model them "
                             "with --visible potts")
        if visible.data_preparation != "binarize":
            return
        try:
            visible.check_values(rows, str(self.data))
        except ValueError as err:
            raise ValueError(f"{err}: binarise them with --binarize threshold or --binarize stochastic (uint8 grey "
                             "levels are read as x / 255), scale them into [0, 1] yourself, or model them with "
                             "--visible gaussian") from None

    def load(self, visible: Units, split: str = "train") -> torch.Tensor:
        """One split of the data, read for ``visible`` units and checked."""
        rows = datasets.load(self.data, split=split, seed=self.seed, **self.load_options(visible))
        self.check(rows, visible)
        return rows

    def training_rows(self, visible: Units) -> Rows:
        """The rows of a training run (:func:`~torchrbm.datasets.split_rows`): the data set's own validation
        split (binarized-mnist), else ``--holdout`` (default 0.1) of the training split drawn at random with
        ``--seed``.  Never the test split."""
        rows = datasets.split_rows(self.data, self.seed, holdout=self.holdout, test=False,
                                   check=lambda part: self.check(part, visible), **self.load_options(visible))
        if alphabet_of(self.data) is None:
            return Rows(rows.train, rows.validation, rows.validation_rows)
        held_weight = None if rows.validation is None else datasets.sequence_weights(rows.validation)
        return Rows(rows.train, rows.validation, rows.validation_rows,
                    train_weight=datasets.sequence_weights(rows.train), held_weight=held_weight)

    def sequence_rows(self, order: int) -> Rows:
        """Frames and contexts (the previous ``order`` frames) for a conditional model, split train / held-out."""
        if canonical_name(self.data) == "moving-bars":
            sequences = datasets.moving_bars(seed=self.seed)
        else:
            sequences = [datasets.load(self.data, binarize_method=None, **self.reading())]
        frames, context = datasets.sequence_windows(sequences, order)
        holdout = DEFAULT_HOLDOUT if self.holdout is None else self.holdout
        train, held = holdout_indices(frames.shape[0], holdout, self.seed)
        if held.numel() == 0:
            return Rows(frames, None, "none", context)
        return Rows(frames[train], frames[held], f"{held.numel()} frames drawn with seed {self.seed}",
                    context[train], context[held])

    def same_data(self, other: DataOptions | None) -> bool:
        """Whether ``other`` (a training run's) reads the same data set or file."""
        return other is not None and canonical_name(absolute_data(other.data)) == canonical_name(
            absolute_data(self.data))


@dataclasses.dataclass(frozen=True)
class Measured:
    """Rows to measure a model on, the training rows to compare with (``None``: none) and what the rows are."""

    rows: torch.Tensor
    reference: torch.Tensor | None
    which: str
    #: The rows' sequence weights, computed within them, for aligned sequences (``None`` for other data).
    weight: torch.Tensor | None = None


def measured_rows(options: DataOptions, split: str | None, visible: Units,
                  trained: DataOptions | None) -> Measured:
    """The rows to measure a model of ``visible`` units on: ``split`` (default: test) of a data set that has
    splits; else the rows its training run (read with ``trained``) held out, if it was trained on the same
    data (the same fraction and seed); else all rows."""
    record = find(options.data)
    if record is not None and record.has_test_split:
        split = split or "test"
        return Measured(options.load(visible, split), options.load(visible), f"{split} split")
    if split is not None:
        raise ValueError(f"--split applies to {listed(WITH_TEST_SPLIT)}; {options.data} has no splits")
    if options.same_data(trained):
        binarize = trained.binarize if options.binarize == "default" else options.binarize
        rows = dataclasses.replace(trained, binarize=binarize, data_dir=options.data_dir).training_rows(visible)
        if rows.held_out is not None:
            return Measured(rows.held_out, rows.train, f"the {rows.held_out.shape[0]} rows its training run held out",
                            rows.held_weight)
    every = options.load(visible)
    weight = None if alphabet_of(options.data) is None else datasets.sequence_weights(every)
    return Measured(every, None, "all rows (none held out)", weight)
