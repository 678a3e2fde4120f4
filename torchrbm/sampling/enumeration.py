"""Exact enumeration of one layer of a model, chunked and vectorised.

Summing out the larger layer analytically and enumerating the smaller one gives

    log Z = logsumexp_x ( -F(x) ),

where ``x`` runs over all states of the enumerated layer and ``F`` is the free
energy with the other layer summed out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from ..models.protocol import EnergyModel

#: Largest layer torchrbm will enumerate: 25 binary units, 2**25 states (for other units, as many states).
MAX_ENUMERATED_UNITS = 25


def enumerated_layer(model: EnergyModel) -> tuple[str, int]:
    """Which layer to enumerate (``"visible"`` or ``"hidden"``) and its number of units.

    The discrete layer with fewer joint states is chosen (``2**n`` for binary units, ``q**L`` for
    Potts units); ties go to the hidden layer.  Raises ``ValueError`` when that layer has more than
    ``2**MAX_ENUMERATED_UNITS`` states.
    """
    candidates = [(units.n_states(size), size, layer) for size, layer, units in (
        (model.n_hidden, "hidden", model.hidden), (model.n_visible, "visible", model.visible)) if units.discrete]
    if not candidates:
        raise ValueError("exact enumeration needs at least one layer of discrete units")
    states, size, layer = min(candidates, key=lambda c: c[0])
    if states > 2**MAX_ENUMERATED_UNITS:
        what = f"{size}" if states == 2**size else f"{size} units with {states:.3g} states"
        raise ValueError(
            f"exact enumeration needs a layer of at most {MAX_ENUMERATED_UNITS} units; the "
            f"smaller layer has {what} ({model.n_visible} visible, {model.n_hidden} hidden). "
            "Use annealed importance sampling (method='ais') for larger models."
        )
    return layer, size


def layer_free_energy(model: EnergyModel, layer: str) -> Callable[[Tensor], Tensor]:
    """The free energy of ``layer``'s states with the other layer summed out."""
    return model.free_energy_hidden if layer == "hidden" else model.free_energy


def iter_states(
    model: EnergyModel, layer: str, *, chunk_size: int = 2**16, dtype: torch.dtype | None = None
) -> Iterator[Tensor]:
    """All states of ``layer`` in chunks of at most ``chunk_size`` rows."""
    units = model.hidden if layer == "hidden" else model.visible
    size = model.n_hidden if layer == "hidden" else model.n_visible
    total = units.n_states(size)
    for start in range(0, total, chunk_size):
        stop = min(start + chunk_size, total)
        yield units.states(size, start, stop, device=model.device, dtype=dtype or model.dtype)


@torch.no_grad()
def log_partition(model: EnergyModel, *, chunk_size: int = 2**16) -> float:
    """``log Z`` by enumerating the smaller layer, accumulated in float64."""
    layer, _ = enumerated_layer(model)
    model64 = as_float64(model)
    free_energy = layer_free_energy(model64, layer)
    partial = [
        torch.logsumexp(-free_energy(states), 0)
        for states in iter_states(model64, layer, chunk_size=chunk_size)
    ]
    return float(torch.logsumexp(torch.stack(partial), 0))


def as_float64(model: EnergyModel):
    """``model`` itself if it is float64, else a float64 copy of it."""
    if model.dtype == torch.float64:
        return model
    copy = type(model).from_config(model.config(), device=model.device, dtype=torch.float64)
    copy.load_state_dict(model.state_dict())
    return copy
