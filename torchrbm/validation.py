"""Input checks shared by every public entry point.

Each check names the argument, what was expected and what was found, so that a
user sees the problem rather than a shape error from deep inside PyTorch.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from .units import Units



def as_data_tensor(
    data,
    *,
    name: str = "data",
    n_features: int | None = None,
    units: Units | None = None,
) -> Tensor:
    """Turn ``data`` (array, tensor or nested list) into a checked 2-D tensor.

    The tensor keeps its dtype (so binary ``uint8`` data stays compact) and its
    device.  Raises ``TypeError`` for non-numeric input and ``ValueError`` for a
    wrong shape, an empty array, non-finite values, a wrong number of columns or
    values outside the range of ``units``.
    """
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, not a {type(data).__name__}")
    if not isinstance(data, Tensor):
        try:
            array = np.asarray(data)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name} could not be read as a rectangular array: {err}") from None
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
        ):
            raise TypeError(f"{name} must hold numbers; found dtype {array.dtype}")
        data = torch.from_numpy(np.ascontiguousarray(array))
    if data.dtype.is_complex:
        raise TypeError(f"{name} must be real-valued; found dtype {data.dtype}")
    if data.dtype == torch.bool:
        data = data.to(torch.uint8)
    if data.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_examples, n_features); found shape {tuple(data.shape)}"
        )
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(data.shape)})")
    if n_features is not None and data.shape[1] != n_features:
        raise ValueError(
            f"{name} has {data.shape[1]} columns but the model has {n_features} visible units"
        )
    # A finite sum proves every value finite (NaN and inf propagate) in one cheap pass;
    # only if it is not (or overflowed) is the full element-wise check run.
    if data.is_floating_point() and not bool(torch.isfinite(data.sum())):
        finite = torch.isfinite(data)
        if not bool(finite.all()):
            bad = (~finite).nonzero()[0].tolist()
            count = int((~finite).sum())
            raise ValueError(
                f"{name} contains {count} NaN or infinite value(s), the first at row {bad[0]}, "
                f"column {bad[1]}"
            )
    if units is not None:
        units.check_values(data, name)
    return data


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; found {value}")
    return int(value)


def check_nonnegative_float(value, name: str) -> float:
    """Return ``value`` as a ``float`` if it is a finite number ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; found {value}")
    return float(value)


def check_device(device) -> torch.device:
    """``device`` as a ``torch.device`` that this machine has (a clear error for a missing GPU)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but this PyTorch sees no CUDA GPU "
                         f"(torch {torch.__version__}; the CPU build has no CUDA)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} asked for, but there are {torch.cuda.device_count()} GPU(s)")
    return device
