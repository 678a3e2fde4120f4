"""The epoch loop of a training run: the batches of each epoch, its record, callbacks and checkpoint.

With several processes (:mod:`torchrbm.distributed`), a gradient (or a batch) that failed on one of
them is agreed on at the end of the epoch; until then that process takes part in the all-reduces,
adding nothing, and applies the others' mean gradient like they do, so parameters stay identical
everywhere.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import torch
from torch import Tensor

from .._utils import threads
from .._utils.progress import Progress
from ..estimation.estimate import mean_free_energy, reconstruction_error
from ..models.protocol import EnergyModel
from . import distributed
from .agreement import batches_or_gaps, raise_if_failed
from .guards import DivergenceGuard
from .lean import LeanStep
from .monitor import History
from .precision import mixed_precision
from .resume import resume, write_checkpoint
from .rows import model_for_rows
from .schedules import set_epoch_rates, step_scheduler
from .settings import TrainingSettings
from .signals import StopAfterEpochOnSignal
from .state import TrainingState, prepare
from .step import step


def _rows_of_step(arguments: dict[str, Any]) -> tuple[Any, int]:
    """The model of a :func:`run_training` call and the rows of its largest product: the batch, or the
    sampler's persistent chains (all temperatures) when there are more."""
    settings = arguments["settings"]
    chains = getattr(settings.sampler, "n_chains", 0) * getattr(settings.sampler, "n_temps", 1)
    return arguments["model"], max(settings.batch_size, chains)


@threads.per_call(_rows_of_step)
def run_training(model: EnergyModel, data, settings: TrainingSettings, *, context=None, validation_data=None,
                 validation_context=None, sample_weight=None, validation_sample_weight=None) -> History:
    """Train ``model`` on ``data`` with ``settings``: :func:`~torchrbm.training.fit.fit`'s work, whose
    documentation says what each setting and argument does."""
    state = prepare(model, data, settings, context=context, validation_data=validation_data,
                    validation_context=validation_context, sample_weight=sample_weight,
                    validation_sample_weight=validation_sample_weight)
    first_epoch = resume(state)
    guard = DivergenceGuard(model, state.weight_names, settings)
    bar = Progress(total=settings.epochs, initial=first_epoch, desc="training", unit="epoch",
                   enabled=settings.progress and state.rank == 0, lines="each")
    signals = StopAfterEpochOnSignal(enabled=settings.checkpoint is not None)
    for epoch in signals.guard(range(first_epoch, settings.epochs)):
        if _epoch(state, epoch, guard, bar, signals):
            break
    bar.close()
    early_stopping, history = settings.early_stopping, state.history
    if early_stopping is not None and not history.interrupted:
        early_stopping.restore(model)
        history.best_epoch = early_stopping.best_epoch
    if model.hidden.scale_invariant:
        _fix_hidden_scale(state)
    return history


def _epoch(state: TrainingState, epoch: int, guard: DivergenceGuard, bar: Progress,
           signals: StopAfterEpochOnSignal) -> bool:
    """Train and record ``epoch``, and write its checkpoint when due; whether training stops after it."""
    settings, epochs = state.settings, state.settings.epochs
    start = time.perf_counter()
    lr, momentum = set_epoch_rates(state.opt, settings, state.scheduler, epoch)
    failure = _train_batches(state, epoch, bar.enabled)
    stop = False
    if failure is None:  # a failure is agreed on below, so that no process is left waiting for one that failed
        try:
            record = _record(state, epoch, guard, {"lr": lr, "momentum": momentum}, start)
            if record["recon_error"] is not None:
                bar.set_postfix(recon=f"{record['recon_error']:.4f}")
            bar.update()
            stop = _after_epoch(state, record)
        except Exception as err:
            failure = err
    stop, interrupted, failed = distributed.any_process([stop, signals.requested, failure is not None],
                                                        state.model.device)
    raise_if_failed(failure, failed, f"epoch {epoch}")
    state.history.interrupted = interrupted = interrupted and epoch < epochs - 1  # else the run is complete
    stop = stop or interrupted
    due = stop or (epoch + 1) % settings.checkpoint_every == 0 or epoch == epochs - 1
    if settings.checkpoint is not None and due:
        write_checkpoint(state, epoch)
    return stop


def _train_batches(state: TrainingState, epoch: int, show: bool) -> Exception | None:
    """One pass over the data, one update per batch; the error that stopped this process's steps, if any
    (raised at once in a single process)."""
    model, settings = state.model, state.settings
    with mixed_precision(model, settings.precision):
        planned = state.source.n_batches(settings.batch_size, state.world_size)
        unread: list[Exception] = []
        batches = state.source.batches(settings.batch_size, settings.shuffle, state.shuffle_generator, state.rank,
                                       state.world_size)
        if state.world_size > 1:
            batches = batches_or_gaps(batches, planned, unread)
        batches = Progress(batches, total=planned, desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                           enabled=show, lines="none")
        if state.lean:
            _take_lean_steps(state, batches)
            return None
        failure: Exception | None = None
        for batch in batches:
            if batch is None and failure is None:
                failure = unread[0]
            if failure is None:
                failure = _step_or_failure(state, batch)
            if state.world_size > 1:
                distributed.all_reduce_gradients(state.params, 0 if batch is None else batch.shape[0],
                                                 contribute=failure is None)
            _update(state)
        if failure is None and unread:  # the batches failed after the last one was due
            failure = unread[0]
    return failure


@torch.no_grad()
def _take_lean_steps(state: TrainingState, batches) -> None:
    """Each batch's :class:`~torchrbm.training.lean.LeanStep` and update, what is fixed for the epoch prepared
    once (a lean run is one process: an error is raised at once, with nothing to agree on)."""
    model, settings = state.model, state.settings
    take_step = LeanStep(model, settings.sampler, state.generator, state.named, state.weight_names,
                         settings.weight_decay, **_penalties(state))
    device, dtype = model.device, model.dtype
    for batch in batches:
        if batch.dtype != dtype or batch.device != device:
            batch = batch.to(device=device, dtype=dtype, non_blocking=True)
        take_step(batch)
        _update(state)


def _update(state: TrainingState) -> None:
    """The optimizer's step on the gradients set (clipped first if the run says so), then the model's
    constraints where it has any."""
    if state.settings.clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(state.params, state.settings.clip_grad_norm)
    state.opt.step()
    if state.constrains:
        state.model.constrain_()


def _penalties(state: TrainingState) -> dict[str, Any]:
    """The step's keyword arguments for sample weights and the penalties beyond weight decay."""
    return {"weighted": state.weighted, "l1_squared": state.settings.l1_squared,
            "l2_fields": state.settings.l2_fields}


@torch.no_grad()
def _fix_hidden_scale(state: TrainingState) -> None:
    """Fix the scale of scale-invariant hidden units (dReLU) once training ends: unit variance on the
    monitored training rows (:meth:`~torchrbm.units.Units.unit_scale`, weighted by their sample weights),
    which are the same rows on every process of a process group, so that parameters stay identical
    everywhere.  ``p(v)`` does not change.  The scale stays free between updates: rescaling the units
    after every update or epoch slowed learning (WW, 100 dReLU units, 15 epochs: validation
    log-likelihood -59.0 with a rescaling after each epoch, -53.5 without)."""
    model = state.model
    row_model, v = model_for_rows(model, state.monitor_train)
    model.rescale_hidden_(model.hidden.unit_scale(row_model.hidden_preactivation(v), state.monitor_train_weight))


def _step_or_failure(state: TrainingState, batch: Tensor) -> Exception | None:
    """Set the gradients of ``batch``; in a process group, the error instead of raising it."""
    model, settings = state.model, state.settings
    try:
        batch = batch.to(device=model.device, dtype=model.dtype, non_blocking=True)
        step(model, batch, settings.sampler, state.generator, state.named, state.weight_names, settings.weight_decay,
             state.sparsity, state.centering, settings.extra_loss, **_penalties(state))
    except Exception as err:
        if state.world_size == 1:
            raise
        traceback.clear_frames(err.__traceback__)  # free the failed step's tensors
        return err
    return None


def _record(state: TrainingState, epoch: int, guard: DivergenceGuard, rates: dict[str, Any],
            start: float) -> dict[str, Any]:
    """Check the model for divergence and add ``epoch``'s record (with its ``lr`` and ``momentum``) to the
    history."""
    model, measured = state.model, state.settings.monitor
    train_free_energy = mean_free_energy(*model_for_rows(model, state.monitor_train), name="train",
                                         sample_weight=state.monitor_train_weight) if measured else None
    guard.check(model, epoch, train_free_energy, rates["lr"])
    measures = _measures(state, train_free_energy) if measured else dict.fromkeys(_MEASURES)
    record = {"epoch": epoch, **measures, **rates, "time": time.perf_counter() - start}
    state.history.append(record)
    return record


_MEASURES = ("recon_error", "recon_error_valid", "free_energy_gap")


def _measures(state: TrainingState, train_free_energy: float) -> dict[str, float | None]:
    """The reconstruction errors of the monitored rows and the free-energy gap ``mean F(held-out) - mean
    F(training)`` (each mean weighted by the rows' sample weights, if any; ``None`` without held-out rows)."""
    model, train, valid = state.model, state.monitor_train, state.monitor_valid
    train_weight, valid_weight = state.monitor_train_weight, state.monitor_valid_weight
    measures = dict.fromkeys(_MEASURES)
    measures["recon_error"] = reconstruction_error(*model_for_rows(model, train), sample_weight=train_weight)
    if valid is not None:
        measures["recon_error_valid"] = reconstruction_error(*model_for_rows(model, valid), sample_weight=valid_weight)
        measures["free_energy_gap"] = mean_free_energy(*model_for_rows(model, valid), name="held_out",
                                                       sample_weight=valid_weight) - train_free_energy
    return measures


def _after_epoch(state: TrainingState, record: dict[str, Any]) -> bool:
    """Run the callbacks (every one), early stopping and the scheduler on ``record``; whether to stop."""
    model, early_stopping = state.model, state.settings.early_stopping
    stop = any([callback(model, record) for callback in state.callbacks])  # every one runs
    if early_stopping is not None:
        stop = early_stopping(model, record) or stop
    step_scheduler(state.scheduler, state.plateau_key, record)
    return stop
