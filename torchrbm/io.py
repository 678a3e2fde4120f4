"""Saving and loading models: safetensors for tensors, JSON for everything else.

A model file is one ``.safetensors`` file.  Its header metadata holds a JSON
document under the key ``"torchrbm"`` with the format version, the model's
configuration (class, sizes, unit types) and free-form training metadata, so
that :func:`load` needs no knowledge of how the model was built.  Nothing is
ever unpickled.  Every file is written atomically: to a temporary file in the
same directory, flushed to disk, then renamed over the target.

A mutational scan (:func:`~torchrbm.mutational_scan`) is written as a CSV table
(:func:`mutational_scan_csv`), atomically too.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import torch
from torch import Tensor

from ._utils.files import atomic_write_text, read_tensor_file, write_tensor_file
from ._utils.validation import check_device, numeric_tensor
from .data.alignments import alphabet_symbols, sequence_codes
from .models.protocol import EnergyModel
from .models.registry import MODELS

FORMAT_VERSION = 2  # 2: the header carries the SHA-256 of header and tensors (version 1 files are read without)
_METADATA_KEY = "torchrbm"
_WHAT = "torchrbm model file"


def save(model: EnergyModel, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Save ``model`` (and JSON-serialisable ``metadata``) to a safetensors file at ``path``.

    Any model class registered in :data:`~torchrbm.models.registry.MODELS` saves: the built-in ones
    and every subclass of them, user code included (a class registers itself as it is defined).
    """
    name = type(model).__name__
    if name not in MODELS or MODELS[name] is not type(model):
        raise TypeError(f"cannot save a {name}; known models: {', '.join(MODELS)}")
    header = {"format_version": FORMAT_VERSION, "config": model.config(), "metadata": metadata or {}}
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    write_tensor_file(path, tensors, _METADATA_KEY, header)


def _read(path, with_tensors: bool) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Header and tensors of a model file, checked: format, checksum (from format 2), configuration."""
    header, tensors = read_tensor_file(path, _METADATA_KEY, _WHAT, version_key="format_version",
                                       max_version=FORMAT_VERSION, with_tensors=with_tensors)
    config = header.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise ValueError(f"{path} is corrupted: its header holds no model configuration")
    return header, tensors


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file (format version, config, metadata)."""
    return _read(path, with_tensors=False)[0]


def load(path: str | os.PathLike, *, device: torch.device | str | None = None):
    """Load a model saved by :func:`save`; tensors keep their saved dtype.

    Truncated, corrupted (checksum) or newer-format files and files that are not
    torchrbm models (pickles included: nothing is unpickled) raise ``ValueError``.
    The training metadata stays in the file: ``read_header(path)["metadata"]``.
    """
    device = None if device is None else check_device(device)
    header, tensors = _read(path, with_tensors=True)
    config = header["config"]
    if config["class"] not in MODELS:
        raise ValueError(f"{path} holds an unknown model class {config['class']!r}; known: {', '.join(MODELS)}")
    cls = MODELS[config["class"]]
    if not tensors:
        raise ValueError(f"{path} is corrupted: it holds no tensors")
    dtype = next(iter(tensors.values())).dtype
    try:
        model = cls.from_config(config, device=device, dtype=dtype)
        model.load_state_dict(tensors)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} is corrupted: its tensors do not fit its configuration ({err})") from None
    return model


def checked_scan(scan, alphabet: str, sequence=None) -> tuple[Tensor, str, Tensor | None]:
    """A mutational scan ``(L, q)`` as float64 on the CPU, the ``q`` symbols of ``alphabet`` (a name of
    :data:`~torchrbm.datasets.ALPHABETS` or a string) and the codes of the scanned ``sequence`` (its letters or
    codes; ``None`` without one); ``ValueError`` if they do not fit one another."""
    symbols = alphabet_symbols(alphabet)
    table = numeric_tensor(scan, "scan").detach().double().cpu()
    if table.ndim != 2 or table.shape[1] != len(symbols):
        raise ValueError(f"scan must have shape (L, {len(symbols)}), a column per symbol of the alphabet "
                         f"{symbols!r}; found {tuple(table.shape)}")
    codes = None if sequence is None else sequence_codes(sequence, symbols)
    if codes is not None and codes.numel() != table.shape[0]:
        raise ValueError(f"the sequence has {codes.numel()} positions but the scan has {table.shape[0]}")
    return table, symbols, codes


def mutational_scan_csv(scan, sequence, alphabet: str) -> str:
    """A mutational scan as CSV text: one row per position of the wild type ``sequence``.

    ``scan`` is :func:`~torchrbm.mutational_scan`'s ``(L, q)`` table,
    ``scan[i, a] = log p(x^{i -> a}) - log p(x)``; ``sequence`` the scanned sequence ``x`` (its letters, or
    its codes ``0 .. q - 1``); ``alphabet`` the ``q`` symbols (a name of
    :data:`~torchrbm.datasets.ALPHABETS` or a string).  The header is ``position,wild_type`` and one column
    per symbol; row ``i`` holds the position (from 1), the wild type's symbol and the ``q`` scores, each
    written with the shortest digits that read back as the same float64.
    """
    table, symbols, codes = checked_scan(scan, alphabet, sequence)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["position", "wild_type", *symbols])
    for position, (code, row) in enumerate(zip(codes.tolist(), table.tolist(), strict=True), start=1):
        writer.writerow([position, symbols[code], *map(repr, row)])
    return text.getvalue()


def write_mutational_scan_csv(path: str | os.PathLike, scan, sequence, alphabet: str) -> None:
    """Write :func:`mutational_scan_csv` to ``path``, atomically."""
    atomic_write_text(path, mutational_scan_csv(scan, sequence, alphabet))
