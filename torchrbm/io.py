"""Saving and loading models: safetensors for tensors, JSON for everything else.

A model file is one ``.safetensors`` file.  Its header metadata holds a JSON
document under the key ``"torchrbm"`` with the format version, the model's
configuration (class, sizes, unit types) and free-form training metadata, so
that :func:`load` needs no knowledge of how the model was built.  Nothing is
ever unpickled.  Every file is written atomically: to a temporary file in the
same directory, flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from .classification import ClassificationRBM
from .conditional import ConditionalRBM
from .conv import ConvRBM
from .dbn import DBN
from .files import atomic_write_bytes
from .rbm import RBM

FORMAT_VERSION = 1
_METADATA_KEY = "torchrbm"
MODEL_CLASSES: dict[str, type] = {"RBM": RBM, "ConditionalRBM": ConditionalRBM, "ConvRBM": ConvRBM,
                                  "ClassificationRBM": ClassificationRBM, "DBN": DBN}


def save(model, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Save ``model`` (and JSON-serialisable ``metadata``) to a safetensors file at ``path``."""
    if type(model).__name__ not in MODEL_CLASSES:
        raise TypeError(f"cannot save a {type(model).__name__}; known models: {', '.join(MODEL_CLASSES)}")
    header = {"format_version": FORMAT_VERSION, "config": model.config(), "metadata": metadata or {}}
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    payload = safetensors.torch.save(tensors, metadata={_METADATA_KEY: json.dumps(header)})
    atomic_write_bytes(path, payload)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file (format version, config, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(_METADATA_KEY)
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{path} is not a readable safetensors model file: {err}") from None
    if raw is None:
        raise ValueError(f"{path} is a safetensors file but holds no torchrbm model")
    header = json.loads(raw)
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version!r}; this torchrbm reads versions up to "
            f"{FORMAT_VERSION}. Upgrade torchrbm to load it."
        )
    return header


def load(path: str | os.PathLike, *, device: torch.device | str | None = None):
    """Load a model saved by :func:`save`; tensors keep their saved dtype.

    The training metadata stays in the file: ``read_header(path)["metadata"]``.
    """
    header = read_header(path)
    config = header["config"]
    cls = MODEL_CLASSES.get(config.get("class"))
    if cls is None:
        raise ValueError(f"{path} holds an unknown model class {config.get('class')!r}")
    tensors = safetensors.torch.load_file(str(path), device=str(device or "cpu"))
    dtype = next(iter(tensors.values())).dtype
    model = cls.from_config(config, device=device, dtype=dtype)
    model.load_state_dict(tensors)
    return model
