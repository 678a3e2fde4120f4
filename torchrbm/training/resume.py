"""A training run's checkpoint: written at the end of an epoch, and read back to resume the run where
it stopped (the file format is :mod:`torchrbm.training.checkpoint`'s)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from . import distributed
from .agreement import raise_if_failed
from .checkpoint import load_checkpoint, save_checkpoint
from .state import TrainingState


def running_state(state: TrainingState) -> dict[str, Tensor]:
    """The running state a checkpoint must keep: the sparsity estimate, centring offsets and the
    parameters of early stopping's best epoch (``best.<name>``)."""
    early_stopping, sparsity, centering = state.settings.early_stopping, state.sparsity, state.centering
    kept = {}
    if early_stopping is not None and early_stopping.best_state is not None:
        kept.update({f"best.{name}": value for name, value in early_stopping.best_state.items()})
    if sparsity is not None and sparsity.q is not None:
        kept["sparsity_q"] = sparsity.q
    if centering is not None:
        kept["visible_offset"], kept["hidden_offset"] = centering.visible, centering.hidden
    return kept


def write_checkpoint(state: TrainingState, epoch: int) -> None:
    """Write the state after ``epoch`` (process 0); every process learns whether that failed."""
    failure = None
    if state.rank == 0:
        try:
            save_checkpoint(state.settings.checkpoint, epoch=epoch, model=state.model, optimizer=state.opt,
                            sampler=state.settings.sampler, generators=state.generators, history=state.history,
                            fingerprint=state.fingerprint, extra=running_state(state), lr_scheduler=state.scheduler)
        except Exception as err:  # agreed on below: the other processes must not wait for this one
            failure = err
    (failed,) = distributed.any_process([failure is not None], state.model.device)
    raise_if_failed(failure, failed, f"writing the checkpoint of epoch {epoch}")


def check_generator_states(saved: list[Tensor], generators: list[torch.Generator], checkpoint) -> None:
    """Refuse a checkpoint whose random generators ran on another kind of device (their
    states differ in size: a CPU generator's is 5056 bytes, a CUDA one's 16)."""
    if any(state.numel() != generator.get_state().numel() for state, generator in zip(saved, generators, strict=False)):
        raise ValueError(f"cannot resume from {checkpoint}: it was made on another kind of device than this "
                         f"model's ({generators[0].device.type}); resume on the device it was trained on")


def resume(state: TrainingState) -> int:
    """Restore the state of the settings' checkpoint when asked to resume and it exists; return the first
    epoch still to run (0 for a new run, ``epochs`` for one that early stopping ended)."""
    settings = state.settings
    checkpoint = settings.checkpoint
    if not (settings.resume and checkpoint is not None and Path(checkpoint).is_file()):
        return 0
    saved = load_checkpoint(checkpoint, state.fingerprint)
    check_generator_states(saved["generators"], state.generators, checkpoint)
    try:
        first_epoch = _restore(saved, state)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{checkpoint} is corrupted: its state does not fit this training run ({err})") from None
    if settings.epochs < first_epoch:
        raise ValueError(f"{checkpoint} holds {first_epoch} epochs, more than epochs={settings.epochs}: epochs is "
                         f"the total, so give at least {first_epoch} to continue it")
    if settings.early_stopping is not None and settings.early_stopping.stopped:  # the run had ended
        return settings.epochs
    return first_epoch


@torch.no_grad()
def _restore(saved: dict, state: TrainingState) -> int:
    """Restore a checkpoint's training state; return the first epoch still to run."""
    model, extra, early_stopping = state.model, saved["extra"], state.settings.early_stopping
    for name, value in model.state_dict().items():
        value.copy_(saved["model"][name])
    state.opt.load_state_dict(saved["optimizer"])
    if state.scheduler is not None:
        state.scheduler.load_state_dict(saved["lr_scheduler"])
    state.settings.sampler.load_state_dict(saved["sampler"])
    for generator, kept in zip(state.generators, saved["generators"], strict=True):
        generator.set_state(kept)
    if state.sparsity is not None and "sparsity_q" in extra:
        state.sparsity.q = extra["sparsity_q"].to(model.device)
    if state.centering is not None:
        state.centering.visible.copy_(extra["visible_offset"])
        state.centering.hidden.copy_(extra["hidden_offset"])
    for record in saved["history"]:
        state.history.append(record)
    if early_stopping is not None:  # its counts follow from the records; the best parameters were saved
        for record in state.history:
            early_stopping.observe(record)
        if early_stopping.restore_best and early_stopping.best_epoch is not None:
            early_stopping.best_state = {name: extra[f"best.{name}"].to(value.device)
                                         for name, value in model.state_dict().items()}
    return saved["epoch"] + 1
