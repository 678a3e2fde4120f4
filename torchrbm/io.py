"""Saving and loading models: safetensors for tensors, JSON for everything else.

A model file is one ``.safetensors`` file.  Its header metadata holds a JSON
document under the key ``"torchrbm"`` with the format version, the model's
configuration (class, sizes, unit types) and free-form training metadata, so
that :func:`load` needs no knowledge of how the model was built.  Nothing is
ever unpickled.  Every file is written atomically: to a temporary file in the
same directory, flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from .classification import ClassificationRBM
from .conditional import ConditionalRBM
from .conv import ConvRBM
from .dbn import DBN
from .files import CHECKSUM_KEY, read_tensor_file, write_tensor_file
from .rbm import RBM

FORMAT_VERSION = 2  # 2: the header carries the tensors' SHA-256 (version 1 files are read without it)
_METADATA_KEY = "torchrbm"
_WHAT = "torchrbm model file"
MODEL_CLASSES: dict[str, type] = {"RBM": RBM, "ConditionalRBM": ConditionalRBM, "ConvRBM": ConvRBM,
                                  "ClassificationRBM": ClassificationRBM, "DBN": DBN}


def save(model, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Save ``model`` (and JSON-serialisable ``metadata``) to a safetensors file at ``path``."""
    if type(model).__name__ not in MODEL_CLASSES:
        raise TypeError(f"cannot save a {type(model).__name__}; known models: {', '.join(MODEL_CLASSES)}")
    header = {"format_version": FORMAT_VERSION, "config": model.config(), "metadata": metadata or {}}
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    write_tensor_file(path, tensors, _METADATA_KEY, header)


def _checked_header(path, header: dict[str, Any]) -> dict[str, Any]:
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version!r}; this torchrbm reads versions up to "
            f"{FORMAT_VERSION}. Upgrade torchrbm to load it."
        )
    if version >= 2 and CHECKSUM_KEY not in header:
        raise ValueError(f"{path} is corrupted: its header lacks the tensors' checksum")
    if not isinstance(header.get("config"), dict):
        raise ValueError(f"{path} is corrupted: its header holds no model configuration")
    return header


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file (format version, config, metadata)."""
    header, _ = read_tensor_file(path, _METADATA_KEY, _WHAT, with_tensors=False)
    return _checked_header(path, header)


def load(path: str | os.PathLike, *, device: torch.device | str | None = None):
    """Load a model saved by :func:`save`; tensors keep their saved dtype.

    Truncated, corrupted (checksum) or newer-format files and files that are not
    torchrbm models (pickles included: nothing is unpickled) raise ``ValueError``.
    The training metadata stays in the file: ``read_header(path)["metadata"]``.
    """
    header, tensors = read_tensor_file(path, _METADATA_KEY, _WHAT, device=str(device or "cpu"))
    config = _checked_header(path, header)["config"]
    cls = MODEL_CLASSES.get(config.get("class"))
    if cls is None:
        raise ValueError(f"{path} holds an unknown model class {config.get('class')!r}")
    if not tensors:
        raise ValueError(f"{path} is corrupted: it holds no tensors")
    dtype = next(iter(tensors.values())).dtype
    try:
        model = cls.from_config(config, device=device, dtype=dtype)
        model.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path} is corrupted: its tensors do not fit its configuration ({err})") from None
    return model
