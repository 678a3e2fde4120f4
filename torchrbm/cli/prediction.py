"""A conditional model's measure: its one-step prediction error."""

from __future__ import annotations

from typing import Any

import torch


@torch.no_grad()
def prediction_errors(model, frames: torch.Tensor, context: torch.Tensor,
                      generator: torch.Generator) -> dict[str, Any]:
    """One-step prediction error on ``frames`` from their ``context``, and that of copying the
    previous frame, for scale."""
    target = frames.to(device=model.device, dtype=model.dtype)
    previous = context[:, : model.n_visible].to(device=model.device, dtype=model.dtype)
    predicted = model.predict(context, start=previous, steps=10, generator=generator)
    return {"method": "one-step prediction from the previous frames, mean squared error per unit",
            "prediction_error": float((predicted - target).square().mean()),
            "copy_previous_frame_error": float((previous - target).square().mean())}
