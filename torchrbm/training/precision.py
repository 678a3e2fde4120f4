"""Mixed precision: float32 parameters and statistics, lower-precision matrix products.

The matrix products ``v W`` and ``h W^T`` and the weight statistic ``V^T H`` are
most of the work of a training step.  Under ``"bf16-mixed"`` their operands are
rounded to bfloat16 (8 significant bits) and the products accumulate in float32
inside the kernel; everything else (parameters, optimizer state, conditional
probabilities, biases, monitoring) stays in the parameters' own dtype.  Binary
states are exact in either format, so the rounding touches only the weights,
probabilities and grey-level inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..models.protocol import EnergyModel

__all__ = [
    "PRECISIONS",
    "matmul_dtype",
    "mixed_precision",
]

#: Names accepted by ``fit(precision=...)`` and ``--precision``, with the matmul dtype
#: each uses (``None``: the parameters' dtype).
PRECISIONS: dict[str, torch.dtype | None] = {
    "32-true": None,
    "bf16-mixed": torch.bfloat16,
    "16-mixed": torch.float16,
}


def matmul_dtype(precision: str) -> torch.dtype | None:
    """The dtype of the matrix products for ``precision`` (``None``: no rounding)."""
    try:
        return PRECISIONS[precision]
    except (KeyError, TypeError):
        known = ", ".join(PRECISIONS)
        raise ValueError(f"unknown precision {precision!r}; use one of: {known}") from None


@contextmanager
def mixed_precision(model: EnergyModel, precision: str) -> Iterator[None]:
    """Run ``model``'s matrix products at ``precision`` inside the block, then restore it."""
    dtype = matmul_dtype(precision)
    previous = model.matmul_dtype
    model.matmul_dtype = dtype
    try:
        yield
    finally:
        model.matmul_dtype = previous
