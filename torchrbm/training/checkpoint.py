"""Checkpoints of a training run, so that an interrupted ``fit`` resumes where it stopped.

A checkpoint is one ``.safetensors`` file written atomically
(:func:`~torchrbm.files.atomic_write_bytes`) at the end of an epoch.  Its
tensors are everything the next epoch depends on: the model's parameters, the
optimizer's state (momentum buffers), the sampler's persistent state (chains),
the random generators' states, the running averages of the sparsity target
and of centring, and the parameters of early stopping's best epoch; the state
of a learning-rate scheduler goes in the header.  Its JSON header holds the epoch, the history so far, the
optimizer's settings, a format version, the SHA-256 of header and tensors and
a *fingerprint* of the training settings; resuming with different settings is
refused, and so is a truncated or corrupted file.  A run resumed from the
checkpoint of epoch ``e`` ends with the same parameters, bit for bit, as one
that was never interrupted (same device, same settings).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import Tensor

from .._utils.files import read_tensor_file, write_tensor_file
from ..models.protocol import EnergyModel
from .settings import MAY_CHANGE_ON_RESUME

FORMAT_VERSION = 2  # 2: the header carries the SHA-256 of header and tensors (1: none)
_KEY = "torchrbm_checkpoint"
_WHAT = "torchrbm checkpoint"


def _tensors_and_rest(prefix: str, state: dict, tensors: dict[str, Tensor]) -> dict:
    """Move the tensors of a (nested) state dict into ``tensors`` under dotted names; return the rest."""
    rest = {}
    for key, value in state.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Tensor):
            tensors[name] = value.detach().cpu().contiguous().clone()
        elif isinstance(value, dict):
            rest[str(key)] = _tensors_and_rest(name, value, tensors)
        else:
            rest[str(key)] = value
    return rest


def _restore(prefix: str, rest: dict, tensors: dict[str, Tensor]) -> dict:
    """Inverse of :func:`_tensors_and_rest` (keys come back as strings; integer-like ones as ints)."""
    state: dict = {}
    for name, value in tensors.items():
        if name.startswith(prefix + ".") and "." not in name[len(prefix) + 1:]:
            state[_key(name[len(prefix) + 1:])] = value
    for key, value in rest.items():
        state[_key(key)] = _restore(f"{prefix}.{key}", value, tensors) if isinstance(value, dict) else value
    return state


def _flat(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The tensors saved under ``prefix.`` from a flat state dict (whose own keys may hold dots)."""
    return {name[len(prefix) + 1:]: value for name, value in tensors.items() if name.startswith(prefix + ".")}


def _key(text: str):
    return int(text) if text.isdigit() else text


def save_checkpoint(path: str | os.PathLike, *, epoch: int, model: EnergyModel, optimizer, sampler, generators,
                    history, fingerprint: dict[str, Any], extra: dict[str, Tensor], lr_scheduler=None) -> None:
    """Write the state after ``epoch`` (see the module docstring) to ``path``, atomically."""
    tensors: dict[str, Tensor] = {}
    _tensors_and_rest("model", dict(model.state_dict()), tensors)  # flat: keys may hold dots
    optimizer_state = optimizer.state_dict()
    optimizer_rest = _tensors_and_rest("optimizer.state", optimizer_state["state"], tensors)
    _tensors_and_rest("sampler", sampler.state_dict(), tensors)
    for index, generator in enumerate(generators):
        tensors[f"rng.{index}"] = generator.get_state()
    _tensors_and_rest("extra", extra, tensors)
    header = {"format": FORMAT_VERSION, "epoch": epoch, "history": history.records, "fingerprint": fingerprint,
              "optimizer_param_groups": optimizer_state["param_groups"], "optimizer_state": optimizer_rest}
    if lr_scheduler is not None:
        header["lr_scheduler"] = _tensors_and_rest("lr_scheduler", lr_scheduler.state_dict(), tensors)
    write_tensor_file(path, tensors, _KEY, header)


#: The header's fields and the JSON types they must have.
_HEADER_TYPES = {"epoch": int, "history": list, "fingerprint": dict, "optimizer_param_groups": list,
                 "optimizer_state": dict}


def _read(path: Path, with_tensors: bool) -> tuple[dict[str, Any], dict[str, Tensor]]:
    header, tensors = read_tensor_file(path, _KEY, _WHAT, version_key="format", max_version=FORMAT_VERSION,
                                       with_tensors=with_tensors)
    wrong = [key for key, kind in _HEADER_TYPES.items()
             if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool)]
    if wrong or not all(isinstance(record, dict) for record in header["history"]):
        raise ValueError(f"{path} is corrupted: its header lacks or garbles {', '.join(wrong) or 'history'}")
    return header, tensors


def checkpoint_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-epoch records up to a checkpoint (from its header alone)."""
    return _read(Path(path), with_tensors=False)[0]["history"]


def load_checkpoint(path: str | os.PathLike, fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The state in ``path``, after checking its format, checksum and that it was made with
    ``fingerprint``'s settings (except those in :data:`~torchrbm.training.settings.MAY_CHANGE_ON_RESUME`)."""
    path = Path(path)
    header, tensors = _read(path, with_tensors=True)
    saved = header["fingerprint"]
    differing = sorted(key for key in set(saved) | set(fingerprint)
                       if key not in MAY_CHANGE_ON_RESUME and saved.get(key) != fingerprint.get(key))
    if differing:
        details = "; ".join(f"{key}: {saved.get(key)!r} there, {fingerprint.get(key)!r} now" for key in differing)
        raise ValueError(f"cannot resume from {path}: it was made with other settings ({details}); keep its "
                         f"settings to continue it, or start afresh with the checkpoint written elsewhere")
    return {
        "epoch": header["epoch"],
        "history": header["history"],
        "model": _flat("model", tensors),
        "optimizer": {"state": _restore("optimizer.state", header["optimizer_state"], tensors),
                      "param_groups": header["optimizer_param_groups"]},
        "sampler": _flat("sampler", tensors),
        "generators": [tensors[f"rng.{i}"] for i in range(sum(name.startswith("rng.") for name in tensors))],
        "extra": _flat("extra", tensors),
        "lr_scheduler": _restore("lr_scheduler", header["lr_scheduler"], tensors) if "lr_scheduler" in header
        else None,
    }
