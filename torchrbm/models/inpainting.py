"""Inpainting: fill in missing visible units by Gibbs sampling with the observed ones clamped.

With the observed units ``v_o`` held fixed, the chain ``h ~ p(h | v)``,
``v_m ~ p(v_m | h)`` samples the conditional ``p(v_m | v_o)`` of the missing units
``v_m`` (an RBM's visible units are independent given ``h``, so clamping is exact).
The estimate returned is the Rao-Blackwellised mean
``E[v_m | v_o] ≈ 1/T sum_t E[v_m | h_t]`` over the steps after a burn-in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._utils.progress import Progress
from .._utils.validation import check_positive_int, numeric_tensor, trusted_inputs
from .protocol import EnergyModel

#: The named halves of a square image that :func:`inpainting_mask` knows.
MASK_REGIONS = ("bottom", "top", "left", "right")


def inpainting_mask(spec: str, n_visible: int, seed: int = 0) -> Tensor:
    """The mask (``True``: missing) named by ``spec``: a half of a square image
    (``bottom``, ``top``, ``left``, ``right``), ``random:P`` (each pixel missing with
    probability ``P``) or a ``.npy`` file of booleans (or 0/1): one image's (of any shape
    with ``n_visible`` pixels, e.g. 28 x 28) or one row per example."""
    if spec.endswith(".npy"):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"mask file not found: {path}")
        mask = torch.from_numpy(np.load(path, allow_pickle=False))
        return mask.reshape(-1) if mask.ndim > 2 or (mask.ndim == 2 and mask.numel() == n_visible) else mask
    if spec.startswith("random:"):
        try:
            fraction = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"--mask random:P needs a probability P; found {spec!r}") from None
        if not 0 < fraction < 1:
            raise ValueError(f"--mask random:P needs 0 < P < 1; found {fraction}")
        return torch.rand(n_visible, generator=torch.Generator().manual_seed(seed)) < fraction
    if spec not in MASK_REGIONS:
        raise ValueError(f"--mask must be one of {', '.join(MASK_REGIONS)}, random:P or a .npy file; found {spec!r}")
    side = math.isqrt(n_visible)
    if side * side != n_visible or side == 1:
        raise ValueError(f"--mask {spec} needs square images; the model has {n_visible} visible units")
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    region = {"bottom": rows >= side // 2, "top": rows < side // 2,
              "left": columns < side // 2, "right": columns >= side // 2}[spec]
    return region.reshape(-1)


def check_mask(mask, v: Tensor) -> Tensor:
    """``mask`` (``True`` where a unit is missing) as a boolean tensor of ``v``'s shape.

    It may be one row for every example (``(n_visible,)``) or one row per example.
    """
    mask = torch.as_tensor(mask, device=v.device)
    if mask.dtype != torch.bool:
        if mask.is_floating_point() or mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be boolean (True where a unit is missing) or 0/1 integers; found dtype "
                             f"{mask.dtype}")
        mask = mask.bool()
    if mask.shape not in (v.shape, v.shape[-1:]):
        raise ValueError(f"mask must have shape {tuple(v.shape[-1:])} or {tuple(v.shape)} to match the data; "
                         f"found {tuple(mask.shape)}")
    return mask.expand(v.shape)


def observed_input(model: EnergyModel, v, mask, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
    """``(v, mask, start)`` for inpainting with ``model``: ``v`` (2-D) checked as its visible states
    where it is observed (the missing entries may hold anything, NaN say), ``mask`` as a boolean
    tensor of ``v``'s shape, and the chains' start ``v ~ p(v | h = 0)``, which also stands in
    ``v``'s missing entries (a valid state for every unit type)."""
    raw = numeric_tensor(v, "v (visible states)")
    if raw.ndim != 2:
        raise ValueError(f"v must be 2-D (examples, {model.n_visible}); found shape {tuple(raw.shape)}")
    if raw.shape[1] != model.n_visible:
        raise ValueError(f"v has {raw.shape[1]} columns but the model has {model.n_visible} visible units")
    raw = raw.to(model.device)
    mask = check_mask(mask, raw)
    start = model.sample_from_visible_biases(raw.shape[0], generator)
    return model._v(torch.where(mask, start, raw)), mask, start


@torch.no_grad()
@trusted_inputs()
def clamped_gibbs(step: Callable[[Tensor], tuple[Tensor, Tensor]], v: Tensor, mask: Tensor, start: Tensor,
                  steps: int, burn_in: int | None = None, *, progress: bool = False,
                  estimate: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """Run ``step(v) -> (E[v' | ...], v')`` ``steps`` times from ``start``, resetting the
    observed units (``~mask``) to ``v`` after each step; return ``v`` with its missing
    units replaced by their mean over the steps after ``burn_in`` (default: half), turned into
    one value per unit by ``estimate`` (e.g. the most probable of a Potts unit's states).
    ``progress`` reports the steps done on stderr (:mod:`torchrbm.progress`)."""
    steps = check_positive_int(steps, "steps")
    burn_in = steps // 2 if burn_in is None else check_positive_int(burn_in, "burn_in", minimum=0)
    if burn_in >= steps:
        raise ValueError(f"burn_in ({burn_in}) must be smaller than steps ({steps})")
    state = torch.where(mask, start, v)
    total = None
    for index in Progress(range(steps), desc="inpainting", unit="step", enabled=progress):
        mean, sample = step(state)
        state = torch.where(mask, sample, v)
        if index >= burn_in:
            total = mean.clone() if total is None else total.add_(mean)
    average = total / (steps - burn_in)
    return torch.where(mask, average if estimate is None else estimate(average), v)
