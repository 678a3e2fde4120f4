"""Data-parallel training with ``torch.distributed``: one process per CPU socket, GPU or machine.

Every process holds the whole model and its own sampler (its own persistent
chains).  Each training step, process ``r`` takes its share of a global batch
of ``batch_size * world_size`` rows (all processes draw the same shuffled
order), computes its gradient ``g_r`` from its ``n_r`` rows, and one
all-reduce forms the global gradient

    g = sum_r n_r g_r / sum_r n_r,

the gradient of the whole global batch; every process then applies the same
update, so the parameters stay identical everywhere.  Launch with ``torchrun``
(``torchrun --nproc_per_node=2 -m torchrbm train ...``); ``gloo`` serves CPUs
and ``nccl`` GPUs.  See ``docs/scaling.md``.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from ..models.protocol import EnergyModel

__all__ = [
    "is_active",
    "rank_and_size",
    "is_main_process",
    "launched_by_torchrun",
    "init_from_environment",
    "shutdown",
    "broadcast_parameters",
    "shared_seed",
    "all_reduce_gradients",
    "any_process",
]

# Imported now, before any process group exists: this module binds the default group as its
# functions' default arguments when it is first imported, and it is first imported with
# torch._dynamo, which torch.optim loads on the first optimizer.  Imported after
# init_process_group, it would keep the group alive past destroy_process_group, with its gloo
# threads, and a thread still releasing a collective's tensors while Python exits aborts the
# process ("terminate called without an active exception").
if dist.is_available():
    import torch.distributed.nn.functional as _bound_functions

    _group = inspect.signature(_bound_functions.all_reduce).parameters.get("group")
    if _group is not None and _group.default is not None:
        warnings.warn("torch.distributed.nn.functional was first imported (here, or by torch.optim) after "
                      "init_process_group: the process group will outlive destroy_process_group, and the process "
                      "may abort as it exits; import torchrbm before init_process_group (see docs/scaling.md)",
                      RuntimeWarning, stacklevel=2)


def is_active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_size() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if not is_active():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    """Whether this process writes files and prints (rank 0, or the only process)."""
    return rank_and_size()[0] == 0


def launched_by_torchrun() -> bool:
    """Whether the environment describes a group of several processes (``torchrun`` sets it)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str | torch.device | None) -> torch.device | None:
    """Join the process group ``torchrun`` describes; return this process's device.

    CPU processes use the ``gloo`` backend, CUDA processes ``nccl`` with device
    ``cuda:LOCAL_RANK``.  Outside ``torchrun`` nothing happens and ``device`` is
    returned as given.
    """
    if not launched_by_torchrun() or dist.is_initialized():
        return None if device is None else torch.device(device)
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    logging.getLogger(__name__).info("process %d of %d (%s, %s)", dist.get_rank(), dist.get_world_size(),
                                     dist.get_backend(), device)
    return device


def shutdown() -> None:
    """Leave the process group, if this process joined one, once every process has come this far
    (process 0 writes the run directory after training; the others wait for it rather than tear
    their connections down under it)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        dist.barrier()
    except RuntimeError as err:  # a process died: leave anyway
        logging.getLogger(__name__).warning("leaving the process group without the others: %s", err)
    finally:
        dist.destroy_process_group()


def _communication_device(device: torch.device | str) -> torch.device:
    """Where tensors of ``device`` travel through the backend: the GPU for NCCL, the CPU for gloo."""
    return torch.device(device) if dist.get_backend() == "nccl" else torch.device("cpu")


@torch.no_grad()
def broadcast_parameters(model: EnergyModel) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    for tensor in [*model.parameters(), *model.buffers()]:
        carrier = tensor.detach().to(_communication_device(tensor.device))
        dist.broadcast(carrier, src=0)
        tensor.copy_(carrier)


def shared_seed(seed: int | None, device: torch.device) -> int:
    """Rank 0's ``seed`` (a random one if it is ``None``), the same on every process; sent from
    ``device`` (this process's GPU under NCCL)."""
    value = torch.tensor([seed if seed is not None else int(torch.randint(2**62, ()))], dtype=torch.int64,
                         device=_communication_device(device))
    dist.broadcast(value, src=0)
    return int(value.item())


@torch.no_grad()
def all_reduce_gradients(params: list[Tensor], n_rows: int, *, contribute: bool = True) -> None:
    """Replace each ``param.grad`` by the row-weighted mean of all processes' gradients, in one all-reduce.

    A process that does not ``contribute`` (its step failed) adds zeros and no rows; its
    gradients come back as the others' mean."""
    if not contribute:
        for p in params:
            p.grad = torch.zeros_like(p)
        n_rows = 0
    first = params[0].grad
    flat = torch.cat([p.grad.reshape(-1).to(first.dtype) for p in params]
                     + [torch.ones(1, device=first.device, dtype=first.dtype)]).mul_(n_rows)
    carrier = flat.to(_communication_device(first.device))
    dist.all_reduce(carrier)
    carrier = carrier.to(first.device)
    carrier[:-1].div_(carrier[-1].clamp_(min=1))  # no rows anywhere (every process failed): zeros
    start = 0
    for p in params:
        size = p.grad.numel()
        p.grad.copy_(carrier[start : start + size].view_as(p.grad))
        start += size


def any_process(flags: Sequence[bool], device: torch.device) -> list[bool]:
    """For each flag, whether it is true on any process: one all-reduce, after which every process
    takes the same branch (stop, fail) and none is left waiting for another.  Outside a process
    group the flags come back as they are."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(flags)
    value = torch.tensor([float(flag) for flag in flags], device=_communication_device(device))
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return [bool(flag) for flag in value.tolist()]

