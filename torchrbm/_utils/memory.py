"""Allocations that fail with a message saying how much memory they need, not an allocator traceback."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def allocate(shape: Sequence[int], device: torch.device | str | None, dtype: torch.dtype | None,
             make: Callable[[], Tensor] | None = None) -> Tensor:
    """``make()`` (by default ``torch.empty(shape)``), a tensor of ``shape`` on ``device``; a tensor larger
    than the device's memory is refused before trying (an over-committing OS would accept it, then kill
    the process) and an allocation that fails raises ``MemoryError`` naming the size."""
    target = torch.empty(0, device=device).device  # ``None``: torch's default device
    size = torch.empty(0, dtype=dtype).element_size() * math.prod(shape)
    message = (f"a parameter of shape {tuple(shape)} needs {size / 2**30:.3g} GiB on {target}, more than this "
               "machine could allocate: choose a smaller model")
    if size > _memory_of(target):
        raise MemoryError(message)
    try:
        return torch.empty(tuple(shape), device=target, dtype=dtype) if make is None else make()
    except (RuntimeError, MemoryError) as err:  # torch.OutOfMemoryError is a RuntimeError
        if "memory" not in str(err).lower() and "alloc" not in str(err).lower():
            raise
        raise MemoryError(message) from None


def _memory_of(device: torch.device) -> float:
    """Total memory of ``device`` in bytes (``inf`` where it cannot be told)."""
    if device.type == "cuda":
        return float(torch.cuda.get_device_properties(device).total_memory)
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX
        return math.inf
