"""The model of a command: built from ``train``'s options, started from ``--init``, or loaded from a file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .. import plots, units
from .._utils.text import listed
from ..data import datasets
from ..data.alignments import ALPHABETS, alphabet_symbols
from ..data.registry import REGISTRY, alphabet_of
from ..io import load, read_header
from ..models.registry import MODELS
from ..runs import absolute_data
from .data import DataOptions, Rows
from .options import TrainOptions

#: --visible's unit types, from --learn-sigma (for the units that have variances) and the number of
#: symbols of categorical data (for Potts units).
VISIBLE: dict[str, Callable[[bool, int | None], units.Units]] = {
    "bernoulli": lambda learn_sigma, q: units.Bernoulli(),
    "gaussian": lambda learn_sigma, q: units.Gaussian(learn_sigma=learn_sigma),
    "potts": lambda learn_sigma, q: units.Potts(q),
}

#: The data sets of categorical rows (integer codes), which Potts units model.
CATEGORICAL = tuple(record.name for record in REGISTRY.values() if record.alphabet is not None)

#: --hidden-units' unit types.
HIDDEN = ("bernoulli", "relu", "drelu", "spin")

#: --model's choices: the registered model classes they train.
MODEL_CLASSES = {"rbm": "RBM", "conv": "ConvRBM", "crbm": "ConditionalRBM"}


def visible_units(options: TrainOptions) -> units.Units:
    """The visible unit type that ``--visible`` (and ``--learn-sigma``) name; Potts units take as many
    states as the data's alphabet has symbols."""
    alphabet = alphabet_of(options.data)
    if options.visible == "potts" and alphabet is None:
        raise ValueError(f"--visible potts needs categorical data: an alignment file (aligned FASTA, A2M/A3M, "
                         f"Stockholm) or {listed(CATEGORICAL, 'or')}; {options.data} holds numbers")
    return VISIBLE[options.visible](options.learn_sigma, None if alphabet is None else len(alphabet))


def is_conditional(model) -> bool:
    """Whether ``model`` models rows given a context (it offers the conditional model's hooks)."""
    return all(hasattr(model, hook) for hook in ("condition", "join_context", "split_rows"))


def bottom_visible(model) -> units.Units:
    """The visible units of ``model``, or of its bottom layer for a stack of layers (a deep belief net)."""
    return (model.layers[0] if hasattr(model, "layers") else model).visible


def build_model(options: TrainOptions, rows: Rows, visible: units.Units, scaler: datasets.Standardizer | None,
                generator: torch.Generator, device: str | None):
    """A new model of ``--model``'s class for the training rows, with random weights."""
    train = rows.train
    cls = MODELS[MODEL_CLASSES[options.model]]
    common = {"visible": visible, "hidden": options.hidden_units, "data": train, "generator": generator,
              "device": device}
    if options.model == "crbm":
        return cls(train.shape[1], options.hidden, options.order * train.shape[1], **common)
    if options.model == "conv":
        if scaler is not None and scaler.columns.numel() != scaler.mean.numel():
            raise ValueError("a convolutional model needs every pixel; this data has constant pixels, which "
                             "Gaussian units cannot standardise: use --visible bernoulli")
        side = plots.image_shape(train.shape[1])
        if side[0] == 1:
            raise ValueError(f"--model conv needs square images; the data has {train.shape[1]} columns")
        return cls(side, options.filters, options.filter_size, pool=options.pool, **common)
    return cls(train.shape[1], options.hidden, **common)


def initial_model(options: TrainOptions, rows: Rows, visible: units.Units):
    """The model in ``--init``'s file, to train further as a new run: it must fit the data and prepare it as
    --visible's units do; its own architecture is what trains (and what the run records, whatever --hidden says)."""
    model = load(options.init, device=options.device)
    found = model.config()["class"]
    if found != MODEL_CLASSES[options.model]:
        raise ValueError(f"--init {options.init} holds a {found}, not the --model {options.model} to train")
    n_columns = rows.train.shape[1]
    if model.n_visible != n_columns:
        raise ValueError(f"--init {options.init} has {model.n_visible} visible units but the data has {n_columns} "
                         "columns")
    if model.visible.data_preparation != visible.data_preparation:
        raise ValueError(f"--init {options.init} has {model.visible.name} visible units, not --visible "
                         f"{options.visible}")
    return model


def initial_path(options: TrainOptions) -> str | None:
    """``--init`` as the run records it: an absolute path (``None`` without --init)."""
    return None if options.init is None else str(Path(options.init).resolve())


def recorded_options(path: str) -> TrainOptions | None:
    """The ``train`` options recorded in a model file, over the defaults (``None`` for a file without any)."""
    config = read_header(path)["metadata"].get("config")
    return TrainOptions.from_record(config) if config else None


def standardizer(path: str) -> datasets.Standardizer | None:
    """The standardisation a model file's training data went through, if any."""
    state: dict[str, Any] | None = read_header(path)["metadata"].get("standardizer")
    return None if state is None else datasets.Standardizer.from_dict(state)


def model_data(args: argparse.Namespace, trained: TrainOptions | None) -> DataOptions:
    """--data and how to read it, for a command on a model file: by default the data the model was trained
    on (its recorded settings), else digits."""
    if args.data is not None:
        data = absolute_data(args.data)
    else:
        data = trained.data if trained is not None else "digits"
    return DataOptions(data=data, data_dir=args.data_dir, binarize=args.binarize, csv_header=args.csv_header,
                       delimiter=args.delimiter, seed=args.seed)


def model_alphabet(path: str, alphabet: str | None, n_states: int) -> str:
    """The symbols of the model's states: ``--alphabet``, else those of the data its training run recorded
    (an alignment or a protein family), else the protein alphabet; refused if their number is not ``n_states``."""
    trained = recorded_options(path)
    recorded = None if trained is None else alphabet_of(trained.data)
    symbols = alphabet_symbols(alphabet or recorded or "protein")
    if len(symbols) != n_states:
        source = ("--alphabet" if alphabet else f"the alphabet of its training data {trained.data}" if recorded
                  else "the default protein alphabet")
        raise ValueError(f"the model's visible units have {n_states} states each but {source} has {len(symbols)} "
                         f"symbols ({symbols!r}): give --alphabet with {n_states} symbols, one per state in order "
                         f"(named alphabets: {', '.join(ALPHABETS)})")
    return symbols
