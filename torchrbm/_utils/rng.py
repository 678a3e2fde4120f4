"""Random generators: every draw in torchrbm goes through a seedable ``torch.Generator``."""

from __future__ import annotations

import torch
from torch import Tensor

from .memory import allocate


def resolve_generator(device: torch.device | str, seed: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Generator:
    """``generator`` if given (it must live on ``device``'s kind of device: a CUDA model samples
    with a CUDA generator), else a new one on ``device`` seeded with ``seed`` (random if None)."""
    device = torch.device(device)
    if generator is not None:
        if generator.device.type != device.type:
            raise ValueError(f"the generator is on {generator.device.type} but the model is on {device}: "
                             f"pass torch.Generator(device={device.type!r}) (or a seed instead)")
        return generator
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else torch.seed())
    return generator


def initial_normal(*shape: int, generator: torch.Generator | None, device: torch.device | str | None,
                   dtype: torch.dtype | None) -> Tensor:
    """Standard normal draws for starting parameters, made on the generator's device and then
    moved to ``device``: a CPU generator seeds a model on any device, with the same start."""
    target = torch.empty(0, device=device).device  # ``None``: torch's default device
    source = target if generator is None else generator.device
    return allocate(shape, target, dtype,
                    lambda: torch.randn(shape, generator=generator, device=source, dtype=dtype).to(target))
