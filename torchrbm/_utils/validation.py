"""Input checks shared by every public entry point.

Each check names the argument, what was expected and what was found, so that a
user sees the problem rather than a shape error from deep inside PyTorch.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import sys
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor


class ValueCheck(Protocol):
    """What the checks here need of a layer's unit type (:class:`torchrbm.units.Units` has it)."""

    def check_values(self, x: Tensor, name: str) -> None:
        """Raise ``ValueError``, naming ``name``, if ``x`` holds a value outside the units' range."""


#: Magnitudes beyond float32's range are refused: models compute in float32 (or narrower).
MAX_ABS_VALUE = float(torch.finfo(torch.float32).max)

_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("torchrbm_trusted_inputs", default=False)


@contextlib.contextmanager
def trusted_inputs():
    """Within this block model methods skip the value checks of their inputs (finiteness, range).

    For torchrbm's own loops (training steps, Gibbs chains, AIS), whose inputs were
    checked once on the way in; shapes are still checked.
    """
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def inputs_trusted() -> bool:
    """Whether this code runs inside :func:`trusted_inputs`."""
    return _TRUSTED.get()


def numeric_tensor(data, name: str) -> Tensor:
    """``data`` (tensor, array, nested list or scipy sparse matrix) as a real-valued tensor."""
    if isinstance(data, (str, bytes, Mapping)) or data is None:  # a dict would become an array of one object
        raise TypeError(f"{name} must be an array of numbers, not a {type(data).__name__}")
    if isinstance(data, Tensor) and data.layout != torch.strided:
        data = data.to_dense()
    elif not isinstance(data, Tensor) and callable(getattr(data, "toarray", None)):  # scipy.sparse
        data = data.toarray()
    if not isinstance(data, Tensor):
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as err:  # ragged nested lists
            raise ValueError(f"{name} could not be read as a rectangular array: {err}") from None
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise TypeError(f"{name} must hold numbers; found dtype {array.dtype}")
        if np.issubdtype(array.dtype, np.complexfloating):
            raise TypeError(f"{name} must be real-valued; found dtype {array.dtype}")
        if array.dtype in (np.uint16, np.uint32, np.uint64):  # no torch equivalent before 2.3
            array = array.astype(np.int64 if array.dtype != np.uint64 else np.float64)
        data = torch.from_numpy(np.require(array, requirements="C"))  # ascontiguousarray makes 0-d 1-d
    if data.device.type == "meta":
        raise ValueError(f"{name} is on the meta device and holds no values")
    if data.dtype.is_complex:
        raise TypeError(f"{name} must be real-valued; found dtype {data.dtype}")
    if data.dtype == torch.bool:
        data = data.to(torch.uint8)
    return data


def check_finite(data: Tensor, name: str) -> None:
    """Refuse NaN, infinite and float32-overflowing values, naming the first one's position."""
    if not data.is_floating_point() or not data.numel():
        return
    data = data.detach()
    # One cheap pass proves every value finite and in range; only if it fails is the position looked for.
    largest = data.abs().max() if data.dtype == torch.float64 else data.sum()
    if bool(torch.isfinite(largest)) and (data.dtype != torch.float64 or float(largest) <= MAX_ABS_VALUE):
        return
    finite = torch.isfinite(data)
    if not bool(finite.all()):
        raise ValueError(f"{name} contains {int((~finite).sum())} NaN or infinite value(s), the first at "
                         f"{_position(~finite)}")
    if data.dtype == torch.float64:
        huge = data.abs() > MAX_ABS_VALUE
        if bool(huge.any()):
            raise ValueError(f"{name} holds {int(huge.sum())} value(s) beyond float32's range (|x| > "
                             f"{MAX_ABS_VALUE:.3g}), the first at {_position(huge)}")


def _position(flags: Tensor) -> str:
    first = flags.nonzero()[0].tolist()
    return f"row {first[0]}, column {first[1]}" if len(first) == 2 else f"position {tuple(first)}"


def as_data_tensor(
    data,
    *,
    name: str = "data",
    n_features: int | None = None,
    units: ValueCheck | None = None,
    note_images: bool = True,
) -> Tensor:
    """Turn ``data`` (array, tensor, nested list or scipy sparse matrix) into a checked 2-D tensor.

    The tensor keeps its dtype (so binary ``uint8`` data stays compact) and its
    device.  Raises ``TypeError`` for non-numeric or complex input and ``ValueError`` for a
    wrong shape, an empty array, NaN, infinite or float32-overflowing values, a wrong
    number of columns or values outside the range of ``units``.

    Images, ``(n_examples, height, width)`` or ``(n_examples, channels, height, width)``, are
    flattened to rows of ``height * width`` (``channels * height * width``) values in row-major
    order, the order in which :class:`~torchrbm.ConvRBM` reads its rows, with a ``UserWarning``
    that names the shapes (unless not ``note_images``).
    """
    data = numeric_tensor(data, name)
    if data.ndim in (3, 4):
        data = flatten_images(data, name, note=note_images)
    if data.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_examples, n_features), or images (n_examples, height, "
                         f"width) or (n_examples, channels, height, width); found shape {tuple(data.shape)}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(data.shape)})")
    if n_features is not None and data.shape[1] != n_features:
        raise ValueError(
            f"{name} has {data.shape[1]} columns but the model has {n_features} visible units"
        )
    check_finite(data, name)
    if units is not None:
        units.check_values(data, name)
    return data


def flatten_images(images: Tensor, name: str, *, note: bool = True) -> Tensor:
    """``images`` of shape ``(n, ...)`` as ``n`` rows of their values in row-major order; ``note``: say so
    (:func:`note_flattened`)."""
    rows = images.reshape(images.shape[0], math.prod(images.shape[1:]))
    if note:
        note_flattened(name, tuple(images.shape), tuple(rows.shape))
    return rows


def note_flattened(name: str, shape: tuple[int, ...], rows: tuple[int, int]) -> None:
    """A ``UserWarning``, pointing at the caller's line, that images of ``shape`` are read as ``rows``."""
    warnings.warn(f"{name} has the shape of images, {shape}: each example is flattened row by row to {rows[1]} "
                  f"values, shape {rows}", UserWarning,
                  stacklevel=stacklevel_outside("torchrbm", "torch", "contextlib"))  # past decorators


def stacklevel_outside(*packages: str) -> int:
    """``stacklevel`` for a warning raised by the calling function that points at the first caller
    outside ``packages`` (the user's line, not torchrbm's, nor a scikit-learn Pipeline's, say)."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] in packages:
        frame, level = frame.f_back, level + 1
    return level


def as_layer_tensor(x, *, size: int, units: ValueCheck, name: str, like: Tensor) -> Tensor:
    """States (or means) of one layer for a model method: any leading shape, ``size`` values
    in the last dimension, on ``like``'s device and dtype.

    Checked like :func:`as_data_tensor` (type, finiteness, the units' range) unless
    inside :func:`trusted_inputs`; an empty batch is allowed.
    """
    trusted = _TRUSTED.get() and isinstance(x, Tensor) and x.dtype == like.dtype and x.device == like.device
    if not trusted:
        x = numeric_tensor(x, name)
    if x.ndim == 0 or x.shape[-1] != size:
        raise ValueError(f"{name} must have {size} values in its last dimension; found shape {tuple(x.shape)}")
    if trusted:
        return x
    check_finite(x, name)
    units.check_values(x, name)
    return x.to(device=like.device, dtype=like.dtype)


def as_sample_weight(sample_weight, n_rows: int) -> Tensor:
    """``sample_weight`` as a float64 tensor of one finite weight ``>= 0`` per row of ``n_rows`` rows, not all zero."""
    weights = numeric_tensor(sample_weight, "sample_weight").reshape(-1)
    if weights.shape[0] != n_rows:
        raise ValueError(f"sample_weight has {weights.shape[0]} values for {n_rows} rows of data")
    check_finite(weights, "sample_weight")
    if bool((weights < 0).any()) or not bool((weights > 0).any()):
        raise ValueError(f"sample_weight must be >= 0 and not all zero; found values from {float(weights.min()):g} "
                         f"to {float(weights.max()):g}")
    return weights.double()


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


def holds_other_than_0_and_1(x: Tensor) -> bool:
    """Whether ``x`` has a value other than 0 and 1 (grey levels, say, where binary states are due)."""
    return bool(((x != 0) & (x != 1)).any())


def parameter_factory(device, dtype) -> dict[str, Any]:
    """``device=`` and ``dtype=`` for a model's parameters, checked: a device this machine has
    (or ``None``: torch's default) and a floating-point dtype (or ``None``)."""
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype (torch.float32, torch.float64, ...); "
                        f"found {dtype}")
    return {"device": None if device is None else check_device(device), "dtype": dtype}


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
