"""Random generators: every draw in torchrbm goes through a seedable ``torch.Generator``."""

from __future__ import annotations

import torch


def resolve_generator(device: torch.device, seed: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Generator:
    """``generator`` if given, else a new one on ``device`` seeded with ``seed`` (random if None)."""
    if generator is not None:
        return generator
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else torch.seed())
    return generator
