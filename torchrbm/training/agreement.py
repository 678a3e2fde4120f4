"""How the processes of a data-parallel training run stay in step: the same shuffling seed, the
same number of all-reduces in an epoch, and one verdict on a failure (:mod:`torchrbm.distributed`)."""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Iterator

import torch
from torch import Tensor

from .._utils.rng import resolve_generator
from ..models.protocol import EnergyModel
from . import distributed


def generators(model: EnergyModel, seed: int | None, generator: torch.Generator | None, rank: int,
               world_size: int) -> tuple[torch.Generator, torch.Generator]:
    """The generators for sampling and for shuffling (one and the same in a single process).

    Under data-parallel training every process shuffles alike (rank 0's seed) and
    samples with a generator of its own, so that its chains differ from the others'.
    """
    if world_size == 1:
        generator = resolve_generator(model.device, seed, generator)
        return generator, generator
    if generator is not None:
        seed = int(torch.randint(2**62, (), generator=generator, device=generator.device))
    seed = distributed.shared_seed(seed, model.device)
    return resolve_generator(model.device, seed + 1 + rank), resolve_generator(model.device, seed)


def batches_or_gaps(batches: Iterator[Tensor], planned: int | None,
                    failures: list[Exception]) -> Iterator[Tensor | None]:
    """``batches``; if they raise (a file that cannot be read, a bad batch) or do not number ``planned``,
    and ``planned`` is given, the error goes to ``failures`` and ``None`` stands in for each batch still
    due, so that this process takes part in exactly ``planned`` all-reduces."""
    done = 0
    try:
        for batch in batches:
            if done == planned:
                raise RuntimeError(f"the data source yielded more batches than the {planned} it announced")
            yield batch
            done += 1
        if planned is not None and done < planned:
            raise RuntimeError(f"the data source yielded {done} batches but announced {planned}")
    except Exception as err:
        if planned is None:
            raise
        traceback.clear_frames(err.__traceback__)
        failures.append(err)
        yield from itertools.repeat(None, planned - done)


def raise_if_failed(failure: Exception | None, failed_anywhere: bool, where: str) -> None:
    """Raise this process's ``failure``, or, if another process failed, an error saying so."""
    if failure is not None:
        raise failure
    if failed_anywhere:
        raise RuntimeError(f"another process of this torch.distributed run failed in {where}; see its error")
